package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Services are the five services, in the order of their default ports (810x, 910x).
var Services = []string{"customers", "inventory", "orders", "payments", "notifications"}

// Platform is one `mercato up` of a built tree (<Root>/bin) with its own fresh data directory.
type Platform struct {
	Name string   // "current", "baseline"
	Root string   // repository root whose bin/ holds the binaries
	Data string   // MERCATO_DATA: must not exist yet or be empty
	Env  []string // added to a clean environment (ports, database URLs)

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// syncBuffer is the launcher's stdout, written by exec's copier and read while waiting.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// platformVars are the variables that steer a platform; a clean environment drops them, so the
// caller's shell cannot leak a port or a database into a run.
func platformVar(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	for _, p := range []string{"MERCATO_", "XDS_", "EDGE_", "NATS_", "BROKER_", "SPIFFE_", "WEB_"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	for _, svc := range Services {
		if strings.HasPrefix(k, strings.ToUpper(svc)+"_") {
			return true
		}
	}
	return false
}

// CleanEnv is the process environment without any platform variable.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !platformVar(kv) {
			env = append(env, kv)
		}
	}
	return env
}

// FreePorts returns the variables that put every listener of `mercato up` on a free port, all
// different: each port stays held until all are chosen.
func FreePorts() ([]string, error) {
	vars := []string{"XDS_ADS_ADDR", "XDS_REGISTRATION_ADDR", "XDS_ADMIN_ADDR", "XDS_PUBLIC_ADDR", "EDGE_ADMIN_ADDR"}
	for _, svc := range Services {
		vars = append(vars, strings.ToUpper(svc)+"_ADDR", strings.ToUpper(svc)+"_ADMIN_ADDR")
	}
	vars = append(vars, "BROKER_ADDR", "BROKER_ADMIN_ADDR", "WEB_ADDR") // WEB_ADDR: the storefront, when built
	var env []string
	for _, v := range vars {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		env = append(env, v+"="+ln.Addr().String())
	}
	return env, nil
}

// freeAddrs returns n different free loopback addresses.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// lookup returns the value of k in the platform's Env, or def.
func (p *Platform) lookup(k, def string) string {
	for _, kv := range p.Env {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return def
}

// EdgeURL is the public URL of the platform's edge.
func (p *Platform) EdgeURL() string {
	_, port, _ := net.SplitHostPort(p.lookup("XDS_PUBLIC_ADDR", "127.0.0.1:8443"))
	return "https://localhost:" + port
}

// CAFile is the edge's dev CA.
func (p *Platform) CAFile() string { return filepath.Join(p.Data, "edge", "ca.pem") }

// AdminAddr is a service's admin listener.
func (p *Platform) AdminAddr(svc string) string {
	for i, s := range Services {
		if s == svc {
			return p.lookup(strings.ToUpper(svc)+"_ADMIN_ADDR", fmt.Sprintf("127.0.0.1:%d", 9101+i))
		}
	}
	return ""
}

// Admin is where the loadgen reads the drain conditions.
func (p *Platform) Admin() Admin {
	return Admin{Orders: "http://" + p.AdminAddr("orders"), Payments: "http://" + p.AdminAddr("payments"),
		Notifications: "http://" + p.AdminAddr("notifications")}
}

// LoadgenArgs are the loadgen flags that point it at this platform.
func (p *Platform) LoadgenArgs() []string {
	a := p.Admin()
	return []string{"-edge", p.EdgeURL(), "-ca", p.CAFile(), "-launcher", fmt.Sprint(p.PID()),
		"-orders-admin", a.Orders, "-payments-admin", a.Payments, "-notifications-admin", a.Notifications}
}

// Start runs `<Root>/bin/mercato up` and waits until it has printed that everything is ready
// and seeded.
func (p *Platform) Start(ctx context.Context, timeout time.Duration) error {
	if err := os.MkdirAll(p.Data, 0o755); err != nil {
		return err
	}
	p.cmd = exec.Command(filepath.Join(p.Root, "bin", "mercato"), "up", "-root", p.Root, "-data", p.Data)
	p.cmd.Env = append(CleanEnv(), p.Env...)
	p.out = &syncBuffer{}
	p.cmd.Stdout = p.out
	log, err := os.Create(filepath.Join(p.Data, "launcher.log"))
	if err != nil {
		return err
	}
	p.cmd.Stderr = log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%s: start mercato up: %w", p.Name, err)
	}
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait(); log.Close() }()
	deadline := time.After(timeout)
	for {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s: mercato up exited before it was ready (%v); see %s", p.Name, err, log.Name())
		case <-deadline:
			return fmt.Errorf("%s: mercato up not ready after %s; see %s", p.Name, timeout, log.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		// The launcher writes its summary in one piece once every component is ready and seeded.
		if strings.Contains(p.out.String(), "seeded in") {
			return nil
		}
	}
}

// PID is the launcher's process ID.
func (p *Platform) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM to the launcher (it stops its children in order) and waits for it.
func (p *Platform) Stop(timeout time.Duration) error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(p.Data, "launcher.log"))
			return fmt.Errorf("%s: mercato up: %w: %s", p.Name, err, lastLines(string(log), 3))
		}
		return nil
	case <-time.After(timeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s: mercato up did not stop within %s; killed", p.Name, timeout)
	}
}

// IdleRSS reads RssAnon (KiB) of every service process of the running platform.
func (p *Platform) IdleRSS() (map[string]int64, error) {
	procs, err := Tree(p.PID())
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, pr := range procs {
		kb, err := RSSAnon(pr.PID)
		if err != nil {
			return nil, err
		}
		out[pr.Name] = kb
	}
	return out, nil
}

// StartTime starts a second instance of svc beside the running one — same binary, data
// directory and Workload API, its own free ports and SQLite database (already migrated), no
// registration with the control plane — and measures exec to the first 200 on its /readyz;
// then stops it. The database is its own because a SQLite database is held by one process at
// a time; the first call migrates it with a start that is not measured.
func (p *Platform) StartTime(ctx context.Context, svc string) (time.Duration, error) {
	db := filepath.Join(p.Data, "start-time", svc, svc+".db")
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		if _, err := p.start(ctx, svc, db); err != nil {
			return 0, fmt.Errorf("migrating %s: %w", db, err)
		}
	}
	return p.start(ctx, svc, db)
}

// start is StartTime's start of svc on the SQLite database db.
func (p *Platform) start(ctx context.Context, svc, db string) (time.Duration, error) {
	addrs, err := freeAddrs(2)
	if err != nil {
		return 0, err
	}
	addr, admin := addrs[0], addrs[1]
	up := strings.ToUpper(svc)
	env := append(CleanEnv(), p.Env...)
	env = append(env, "MERCATO_DATA="+p.Data, "SPIFFE_ENDPOINT_SOCKET=unix://"+filepath.Join(p.Data, "spiffe", "agent.sock"),
		"NATS_URL=nats://"+p.lookup("BROKER_ADDR", "127.0.0.1:4333"), "XDS_REGISTRATION_ADDR=off",
		up+"_ADDR="+addr, up+"_ADMIN_ADDR="+admin, up+"_DATABASE_URL=sqlite://"+db, "DEREGISTER_GRACE=0s")
	cmd := exec.Command(filepath.Join(p.Root, "bin", svc))
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	url := "http://" + admin + "/readyz"
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	for time.Since(start) < 30*time.Second {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		select {
		case err := <-done:
			done <- err
			return 0, fmt.Errorf("%s exited before it was ready (%v): %s", svc, err, lastLines(out.String(), 5))
		default:
		}
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, errors.New(svc + ": not ready within 30 s: " + lastLines(out.String(), 5))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
