package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// architecture Go runs on (the kernel fixes it for the user ABI).
const clockTicks = 100

// Proc is one process of the platform.
type Proc struct {
	PID  int    `json:"pid"`
	Name string `json:"name"` // the component: its executable's base name
}

// procStat reads a process's parent, CPU ticks (utime+stime) and command name.
func procStat(pid int) (ppid int, ticks int64, comm string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, "", err
	}
	// pid (comm) state ppid … : comm may hold spaces and parentheses; it ends at the last ')'.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return 0, 0, "", fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	// f[0] is state (field 3); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, "", fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, utime + stime, comm, nil
}

// Tree returns the launcher and every descendant process, each named by its executable.
func Tree(launcher int) ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, _, _, err := procStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		children[ppid] = append(children[ppid], pid)
	}
	if _, _, _, err := procStat(launcher); err != nil {
		return nil, fmt.Errorf("launcher pid %d: %w", launcher, err)
	}
	var out []Proc
	queue := []int{launcher}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out = append(out, Proc{PID: pid, Name: procName(pid)})
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

// PostgresBackends are the PostgreSQL server processes serving a database whose name contains
// match: their title reads "postgres: [<cluster>:] <user> <database> <client> <state>". Named
// "postgres". Background processes shared by every database (WAL writer, checkpointer) are not
// among them.
func PostgresBackends(match string) ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		title, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		if bytes.HasPrefix(title, []byte("postgres: ")) && bytes.Contains(title, []byte(match)) {
			out = append(out, Proc{PID: pid, Name: "postgres"})
		}
	}
	return out, nil
}

// procName is the base name of the process's executable (comm is cut at 15 bytes).
func procName(pid int) string {
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		return strings.TrimSuffix(filepath.Base(exe), " (deleted)")
	}
	_, _, comm, _ := procStat(pid)
	return comm
}

// Ticks is a CPU snapshot: utime+stime per pid.
type Ticks map[int]int64

// Snapshot reads the CPU time of each process. A process that has exited meanwhile is an error
// unless it is a "postgres" backend (connections come and go; its last ticks are lost).
func Snapshot(procs []Proc) (Ticks, error) {
	t := Ticks{}
	for _, p := range procs {
		_, ticks, _, err := procStat(p.PID)
		if err != nil && p.Name == "postgres" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s (pid %d): %w", p.Name, p.PID, err)
		}
		t[p.PID] = ticks
	}
	return t, nil
}

// CPU is the CPU time a step cost, in total and per process, per successful operation.
type CPU struct {
	Ops          int                `json:"ops"`
	TotalSeconds float64            `json:"total_seconds"`
	PerOpMicros  float64            `json:"per_op_us"`         // all processes together
	PerProcess   map[string]float64 `json:"per_process_op_us"` // µs per op, by component
	DrainSeconds float64            `json:"drain_seconds"`     // after the load, until the async work was done
	Drained      bool               `json:"drained"`
	DrainNote    string             `json:"drain_note,omitempty"`
}

// CPUBetween accounts the ticks spent between two snapshots over ops operations. procs are the
// processes of the second snapshot: one absent from the first started in between and counts
// from zero.
func CPUBetween(procs []Proc, before, after Ticks, ops int) *CPU {
	c := &CPU{Ops: ops, PerProcess: map[string]float64{}}
	var total int64
	for _, p := range procs {
		a, ok := after[p.PID]
		if !ok {
			continue
		}
		d := a - before[p.PID]
		total += d
		if ops > 0 {
			c.PerProcess[p.Name] += perOpMicros(d, ops)
		}
	}
	c.TotalSeconds = float64(total) / clockTicks
	if ops > 0 {
		c.PerOpMicros = perOpMicros(total, ops)
	}
	return c
}

func perOpMicros(ticks int64, ops int) float64 {
	return math.Round(float64(ticks)*1e6/clockTicks/float64(ops)*10) / 10
}

// RSSAnon reads RssAnon of a process in KiB.
func RSSAnon(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "RssAnon:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no RssAnon", pid)
}
