package kittest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/certs/issuer"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/identity"
)

var builds sync.Map // "pkg tags" → *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the main package pkg (an import path such as
// "mercato.dev/services/inventory/cmd/inventory") with the given build tags, once per test
// process, and returns the binary's path.
func Build(t testing.TB, pkg string, tags ...string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg+" "+strings.Join(tags, ","), &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		sweepBuilds(2 * time.Hour)
		dir, err := os.MkdirTemp("", "kitbin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		args := []string{"build", "-o", b.path}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		out, err := exec.Command("go", append(args, pkg)...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("kittest: %v", b.err)
	}
	return b.path
}

// sweepBuilds removes the build directories that earlier test processes left behind (a test
// binary cannot know when the last test using its builds is done, so each leaves its own, and
// the next one clears those older than age; a running process's builds are younger).
func sweepBuilds(age time.Duration) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "kitbin*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > age {
			_ = os.RemoveAll(d)
		}
	}
}

// Register lets the binary at path obtain id's SVID from the Env's issuer.
func (e *Env) Register(id spiffeid.ID, path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.extra = append(e.extra, issuer.Entry{ID: id, Selectors: []string{"unix:path:" + path}})
	e.Issuer.SetEntries(append(e.entries(e.ids), e.extra...))
}

// Process is a service binary running under the Env's issuer.
type Process struct {
	Name      string
	Addr      string // mTLS listener
	AdminAddr string // /healthz, /readyz, /metrics
	bin       string
	env       []string
	cmd       *exec.Cmd
	logs      *syncBuffer
	exited    chan struct{}
	t         testing.TB
}

// StartService runs the service binary bin as service name: its SVID comes from the Env's
// issuer, its data directory is a fresh temporary one, it listens on free loopback ports, and
// env adds or overrides variables (peers' <PEER>_ADDR, <SERVICE>_DATABASE_URL, …). It returns
// once /readyz is green, or fails the test with the process's logs. The process is stopped
// (SIGTERM) at the end of the test.
func (e *Env) StartService(t testing.TB, name, bin string, env map[string]string) *Process {
	t.Helper()
	e.Register(identity.Service(name), bin)
	p := &Process{Name: name, bin: bin, t: t, Addr: freeAddr(t), AdminAddr: freeAddr(t)}
	vars := map[string]string{
		"SPIFFE_ENDPOINT_SOCKET":       e.Addr,
		"MERCATO_DATA":                 t.TempDir(),
		config.Var(name, "ADDR"):       p.Addr,
		config.Var(name, "ADMIN_ADDR"): p.AdminAddr,
		"LOG_LEVEL":                    "debug",
		"XDS_REGISTRATION_ADDR":        "off",               // never into a developer's running stack; set it to test registration
		"NATS_URL":                     "tls://127.0.0.1:1", // nor its broker (4333): pass a test broker's URL to use events
		"DRAIN_TIMEOUT":                "5s",
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		p.env = append(p.env, k+"="+v)
	}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *Process) start() {
	p.t.Helper()
	p.logs = &syncBuffer{}
	p.cmd = exec.Command(p.bin)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.exited = make(chan struct{})
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("kittest: start %s: %v", p.Name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	p.waitReady(60 * time.Second)
}

// waitReady polls /readyz until it is green; the timeout is generous, the time taken is logged.
func (p *Process) waitReady(timeout time.Duration) {
	p.t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		select {
		case <-p.exited:
			p.t.Fatalf("kittest: %s exited before ready:\n%s", p.Name, p.logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.AdminAddr+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				p.t.Logf("kittest: %s ready in %s", p.Name, time.Since(start).Round(time.Millisecond))
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("kittest: %s not ready after %s:\n%s", p.Name, timeout, p.logs.String())
}

// Kill ends the process with SIGKILL: no shutdown code runs.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Stop ends the process with SIGTERM and waits for its graceful shutdown (SIGKILL after 15 s,
// failing the test).
func (p *Process) Stop() { p.stop() }

// Exited is closed when the process has exited (for fault-injection tests where it kills itself).
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Restart starts the process again with the same environment and waits until it is ready.
func (p *Process) Restart() {
	p.t.Helper()
	select {
	case <-p.exited:
	default:
		p.t.Fatalf("kittest: restart %s while it is running", p.Name)
	}
	p.start()
}

// Logs returns everything the process has written so far.
func (p *Process) Logs() string { return p.logs.String() }

func (p *Process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.t.Errorf("kittest: %s ignored SIGTERM for 15s; killing it", p.Name)
		p.Kill()
	}
	if p.t.Failed() {
		p.t.Logf("kittest: %s logs:\n%s", p.Name, p.logs.String())
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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
