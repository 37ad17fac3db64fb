// Package stack runs the whole Mercato platform on one machine without Docker: the local SPIFFE
// issuer, the event broker (bin/broker), the xDS control plane, the five services on SQLite, and the edge (Envoy when one is
// installed, the dev edge otherwise). It starts each process once the ones it needs are ready,
// waits until every one reports ready, restarts a process that exits (with exponential backoff,
// leaving one that crash-loops stopped while the others keep serving), and stops them all, in
// reverse order, on cancellation.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Component is one process of the platform.
type Component struct {
	Name  string
	Path  string   // executable
	Args  []string //
	Env   []string // added to the launcher's environment
	Ready Probe    // nil: ready once started
}

// Probe reports whether a started component is ready to serve.
type Probe func(ctx context.Context) error

// HTTPReady probes an admin /readyz URL.
func HTTPReady(url string) Probe {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d %s", url, res.StatusCode, body)
		}
		return nil
	}
}

// SocketReady waits for a unix socket to exist.
func SocketReady(path string) Probe {
	return func(context.Context) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("%s is not a socket", path)
		}
		return nil
	}
}

// Stack is a set of components started in order.
type Stack struct {
	Components   []Component
	LogDir       string        // each component's output goes to <LogDir>/<name>.log
	ReadyTimeout time.Duration // per component
	Logger       *slog.Logger
	Restart      RestartPolicy // what happens when a component exits while the stack serves
}

type running struct {
	Component
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited; err is then set
	err  error         // of cmd.Wait
	log  *os.File
}

// Run starts every component, calls ready once all are ready, and blocks until ctx ends,
// supervising them meanwhile (see [RestartPolicy]); then it stops them gracefully, in reverse
// order. A component that fails to start or to become ready stops the stack.
func (s *Stack) Run(ctx context.Context, ready func()) error {
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		return err
	}
	var procs []*running
	defer func() { s.stop(procs) }()
	exited := make(chan *running, len(s.Components))
	for _, c := range s.Components {
		p, err := s.start(c, exited)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		if err := s.waitReady(ctx, p); err != nil {
			return err
		}
	}
	if ready != nil {
		ready()
	}
	return s.supervise(ctx, procs, exited)
}

func (s *Stack) start(c Component, exited chan<- *running) (*running, error) {
	logFile, err := os.OpenFile(filepath.Join(s.LogDir, c.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the launcher only: it stops children in order
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	p := &running{Component: c, cmd: cmd, done: make(chan struct{}), log: logFile}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		exited <- p
	}()
	s.Logger.Info("started", "component", c.Name, "pid", cmd.Process.Pid)
	return p, nil
}

func (s *Stack) waitReady(ctx context.Context, p *running) error {
	if p.Ready == nil {
		return nil
	}
	start := time.Now()
	deadline := time.Now().Add(s.ReadyTimeout)
	var last error
	for time.Now().Before(deadline) {
		probeCtx, cancel := context.WithTimeout(ctx, time.Second)
		last = p.Ready(probeCtx)
		cancel()
		if last == nil {
			s.Logger.Info("ready", "component", p.Name, "after", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.Name, p.err, p.log.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s: %v; see %s", p.Name, s.ReadyTimeout, last, p.log.Name())
}

// stop sends SIGTERM in reverse start order and waits for each process (SIGKILL after 25 s);
// a process that has already exited is skipped.
func (s *Stack) stop(procs []*running) {
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.done:
			p.log.Close()
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(25 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.log.Close()
		s.Logger.Info("stopped", "component", p.Name)
	}
}

// ErrMissing reports a component binary that was not built.
var ErrMissing = errors.New("binary not built")
