package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procSpec describes a platform process. kittest.StartService does the same for kit
// services, but the control plane and the edge are not kit services, and the churn test needs
// to send SIGTERM; so every process here goes through this one helper.
type procSpec struct {
	Name     string
	Bin      string
	AdminVar string // the variable naming its admin address (/readyz)
	AddrVar  string // the variable naming its mTLS listener, if it has one
	Env      map[string]string
}

// proc is a running platform binary.
type proc struct {
	Name      string
	Addr      string // mTLS listener (services)
	AdminAddr string // /healthz, /readyz, /metrics
	spec      procSpec
	cmd       *exec.Cmd
	logs      *syncBuffer
	exited    chan struct{}
	tb        testing.TB
	Ready     time.Duration // how long /readyz took
}

// startProc starts the process and returns once its /readyz is green, or fails tb with its
// logs. It is stopped with SIGTERM at the end of tb (SIGKILL after 15 s).
func startProc(tb testing.TB, spec procSpec) *proc {
	tb.Helper()
	p := &proc{Name: spec.Name, spec: spec, tb: tb, AdminAddr: freeAddr(tb)}
	if spec.Env == nil {
		spec.Env = map[string]string{}
	}
	spec.Env[spec.AdminVar] = p.AdminAddr
	if _, ok := spec.Env["LOG_LEVEL"]; !ok {
		spec.Env["LOG_LEVEL"] = "info"
	}
	if _, ok := spec.Env["DRAIN_TIMEOUT"]; !ok {
		spec.Env["DRAIN_TIMEOUT"] = "5s"
	}
	if spec.AddrVar != "" {
		p.Addr = spec.Env[spec.AddrVar]
	}
	p.spec = spec
	p.logs = &syncBuffer{}
	p.cmd = exec.Command(spec.Bin)
	p.cmd.Env = os.Environ()
	for k, v := range spec.Env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// Should the test binary die without its cleanups (a panic, -timeout), the platform dies
	// with it instead of lingering on the machine.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.exited = make(chan struct{})
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", spec.Name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	tb.Cleanup(p.stop)
	p.waitReady(60 * time.Second)
	p.Ready = time.Since(start)
	tb.Logf("%s ready in %s (admin %s%s)", spec.Name, p.Ready.Round(time.Millisecond), p.AdminAddr, map[bool]string{true: ", mTLS " + p.Addr}[p.Addr != ""])
	return p
}

func (p *proc) waitReady(timeout time.Duration) {
	p.tb.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			p.tb.Fatalf("%s exited before it was ready (%v):\n%s", p.Name, p.cmd.ProcessState, p.logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.AdminAddr+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				cancel()
				return
			}
			last = res.Status + " " + b.String()
		} else {
			last = err.Error()
		}
		cancel()
		time.Sleep(50 * time.Millisecond)
	}
	p.tb.Fatalf("%s not ready after %s (last /readyz: %s):\n%s", p.Name, timeout, last, p.logs.String())
}

// Signal sends sig to the process.
func (p *proc) Signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.tb.Errorf("signal %s: %v", p.Name, err)
	}
}

// Wait waits up to timeout for the process to exit and reports whether it did.
func (p *proc) Wait(timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Logs is everything the process wrote so far.
func (p *proc) Logs() string { return p.logs.String() }

func (p *proc) stop() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if !p.Wait(15 * time.Second) {
			p.tb.Errorf("%s ignored SIGTERM for 15s; killing it", p.Name)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if p.tb.Failed() {
		p.tb.Logf("%s logs (exit %v):\n%s", p.Name, p.cmd.ProcessState, p.logs.String())
	}
}

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
