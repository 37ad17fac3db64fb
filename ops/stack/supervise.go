package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// RestartPolicy is how the stack treats a component that exits while the platform serves: it is
// restarted after Backoff, doubled for each earlier crash within Window and capped at
// MaxBackoff; once it has crashed Limit times within Window it is left stopped, with a message,
// while the other components keep serving. Zero fields take the defaults in brackets.
type RestartPolicy struct {
	Backoff    time.Duration // [1s]
	MaxBackoff time.Duration // [30s]
	Limit      int           // [5]
	Window     time.Duration // [1m]
}

func (r RestartPolicy) withDefaults() RestartPolicy {
	if r.Backoff <= 0 {
		r.Backoff = time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 30 * time.Second
	}
	if r.Limit <= 0 {
		r.Limit = 5
	}
	if r.Window <= 0 {
		r.Window = time.Minute
	}
	return r
}

// delay is the wait before the restart that follows the n-th crash within the window (n ≥ 1).
func (r RestartPolicy) delay(n int) time.Duration {
	d := r.Backoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// crashes remembers when each component exited, to tell a crash loop from a rare crash.
type crashes map[string][]time.Time

// add records a crash of name at now and returns how many fell within window.
func (c crashes) add(name string, now time.Time, window time.Duration) int {
	kept := c[name][:0]
	for _, t := range c[name] {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	c[name] = append(kept, now)
	return len(c[name])
}

// restart is a component due to start again at a time.
type restart struct {
	index int
	at    time.Time
}

// supervise restarts components that exit until ctx ends; procs[i] always holds the latest
// process of component i, so that stop finds it.
func (s *Stack) supervise(ctx context.Context, procs []*running, exited chan *running) error {
	policy := s.Restart.withDefaults()
	history := crashes{}
	var due []restart
	for {
		var timer <-chan time.Time
		if len(due) > 0 {
			timer = time.After(time.Until(due[0].at))
		}
		select {
		case <-ctx.Done():
			return nil
		case p := <-exited:
			i := indexOf(procs, p)
			if i < 0 {
				continue // an old process of a component restarted since
			}
			n := history.add(p.Name, time.Now(), policy.Window)
			logFile := filepath.Join(s.LogDir, p.Name+".log")
			if n >= policy.Limit {
				s.Logger.Error(fmt.Sprintf("%s crashed %d times within %s: left stopped, the rest keeps serving; see %s",
					p.Name, n, policy.Window, logFile), "component", p.Name, "status", exitStatus(p.err))
				continue
			}
			wait := policy.delay(n)
			s.Logger.Warn(fmt.Sprintf("%s exited unexpectedly (%s): restarting in %s; see %s", p.Name, exitStatus(p.err), wait, logFile),
				"component", p.Name, "status", exitStatus(p.err), "crashes_in_window", n)
			due = insertRestart(due, restart{index: i, at: time.Now().Add(wait)})
		case <-timer:
			r := due[0]
			due = due[1:]
			p, err := s.start(procs[r.index].Component, exited)
			if err != nil {
				s.Logger.Error("restart failed", "component", procs[r.index].Name, "error", err.Error())
				continue
			}
			procs[r.index].log.Close()
			procs[r.index] = p
			s.Logger.Info("restarted", "component", p.Name, "pid", p.cmd.Process.Pid)
		}
	}
}

func indexOf(procs []*running, p *running) int {
	for i, q := range procs {
		if q == p {
			return i
		}
	}
	return -1
}

// insertRestart keeps due sorted by time.
func insertRestart(due []restart, r restart) []restart {
	i := len(due)
	for i > 0 && due[i-1].at.After(r.at) {
		i--
	}
	due = append(due, restart{})
	copy(due[i+1:], due[i:])
	due[i] = r
	return due
}

// exitStatus describes how a process ended: "exit status 2", "signal: killed".
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
