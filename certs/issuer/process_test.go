package issuer_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/status"
)

// clientEnv makes the test binary act as a Workload API client of the
// socket it names: it prints the gRPC code of FetchX509SVID and exits.
const clientEnv = "MERCATO_ISSUER_TEST_CLIENT"

// dialEnv makes the test binary connect to the unix socket it names, write
// one byte and exit (for peercred_linux_test.go).
const dialEnv = "MERCATO_ISSUER_TEST_DIAL"

func TestMain(m *testing.M) {
	if sock := os.Getenv(clientEnv); sock != "" {
		os.Exit(runClient(sock))
	}
	if sock := os.Getenv(dialEnv); sock != "" {
		os.Exit(dialAndExit(sock))
	}
	if arg := os.Getenv(trickEnv); arg != "" {
		os.Exit(runTrick(arg))
	}
	if registered := os.Getenv(passedEnv); registered != "" {
		os.Exit(runPassed(registered))
	}
	if os.Getenv(reapEnv) != "" {
		os.Exit(runReap())
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func runClient(sock string) int {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err := workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr("unix://"+sock))
	fmt.Println(status.Code(err))
	return 0
}

func dialAndExit(sock string) int {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = conn.Write([]byte{1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// built is the spiffe-issuer binary, built once for every test that runs it.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func issuerBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "spiffe-issuer"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "spiffe-issuer")
		out, err := exec.Command("go", "build", "-o", built.bin, "mercato.dev/certs/cmd/spiffe-issuer").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// issuerProcess is spiffe-issuer running as its own process.
type issuerProcess struct {
	cmd    *exec.Cmd
	sock   string
	logs   *syncBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startProcess runs spiffe-issuer with MERCATO_DATA=data and waits until its
// socket accepts connections.
func startProcess(t *testing.T, data, sock, registrations string) *issuerProcess {
	t.Helper()
	p := &issuerProcess{sock: sock, logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(issuerBinary(t), "--registrations", registrations, "--root", t.TempDir(),
		"--svid-ttl", "1m", "--ca-ttl", "1h", "--log-format", "json")
	p.cmd.Env = append(os.Environ(), "MERCATO_DATA="+data, "SPIFFE_ENDPOINT_SOCKET=unix://"+sock)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	p.waitListening(t)
	return p
}

// waitListening polls the socket: the process is another program, so there
// is no Ready channel to wait on.
func (p *issuerProcess) waitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if conn, err := net.Dial("unix", p.sock); err == nil {
			conn.Close()
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("spiffe-issuer exited: %v\n%s", p.err, p.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("spiffe-issuer not listening on %s after %s\n%s", p.sock, waitLimit, p.logs)
}

// stop sends SIGTERM and expects a clean exit that removed the socket.
func (p *issuerProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(waitLimit):
		t.Fatalf("spiffe-issuer ignored SIGTERM\n%s", p.logs)
	}
	if p.err != nil {
		t.Errorf("spiffe-issuer exited with %v\n%s", p.err, p.logs)
	}
	if _, err := os.Stat(p.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after SIGTERM: %v", err)
	}
}

func TestIssuerRunsAsItsOwnProcess(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	sock := filepath.Join(socketDir(t), "agent.sock")
	entry := selfEntry(t, "/test/process")
	registrations := writeRegistrations(t, fmt.Sprintf("entries:\n- spiffe_id: %s\n  selectors: [unix:path:%s]\n", entry.ID, selfPath(t)))
	p := startProcess(t, data, sock, registrations)

	source, err := workloadapi.NewX509Source(testCtx(t), workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+sock)))
	if err != nil {
		t.Fatalf("NewX509Source: %v\n%s", err, p.logs)
	}
	defer source.Close()
	svid, err := source.GetX509SVID()
	if err != nil || svid.ID != entry.ID {
		t.Fatalf("X509Source SVID %v, %v; want %s", svid, err, entry.ID)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, source); err != nil {
		t.Errorf("the SVID does not verify against the source's bundle: %v", err)
	}
	x509ctx, err := workloadapi.FetchX509Context(testCtx(t), workloadapi.WithAddr("unix://"+sock))
	if err != nil || x509ctx.DefaultSVID().ID != entry.ID {
		t.Fatalf("FetchX509Context: %v", err)
	}

	other := checkOtherProcesses(t, sock)
	roots := rotateBySignal(t, p, sock)
	p.stop(t)
	checkLogs(t, p.logs.String(), entry.ID.String(), other)

	restarted := startProcess(t, data, sock, registrations)
	bundles, err := workloadapi.FetchX509Bundles(testCtx(t), workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := bundles.GetX509BundleForTrustDomain(td)
	if !after.Equal(x509bundle.FromX509Authorities(td, roots)) {
		t.Errorf("after a restart the bundle holds %d roots, not the %d from before", len(after.X509Authorities()), len(roots))
	}
	restarted.stop(t)
}

// checkOtherProcesses runs this test binary as a separate client process,
// from its registered path and from a copy elsewhere, and returns the
// copy's path. Only the registered one gets an SVID.
func checkOtherProcesses(t *testing.T, sock string) string {
	t.Helper()
	copied := filepath.Join(t.TempDir(), "unregistered.test")
	copyFile(t, selfPath(t), copied)
	for _, tt := range []struct{ exe, want string }{{selfPath(t), "OK"}, {copied, "PermissionDenied"}} {
		cmd := exec.Command(tt.exe)
		cmd.Env = append(os.Environ(), clientEnv+"="+sock)
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != tt.want {
			t.Errorf("client process %s: %q (%v), want %s", tt.exe, got, err, tt.want)
		}
	}
	return copied
}

// rotateBySignal sends SIGUSR1 and waits for the bundle to hold two roots.
func rotateBySignal(t *testing.T, p *issuerProcess, sock string) []*x509.Certificate {
	t.Helper()
	client := workloadClient(t, sock)
	bundles := make(chan *x509bundle.Bundle, 16)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	go client.WatchX509Bundles(ctx, bundleWatcher(func(s *x509bundle.Set) {
		b, _ := s.GetX509BundleForTrustDomain(td)
		bundles <- b
	}))
	if n := len((<-bundles).X509Authorities()); n != 1 {
		t.Fatalf("bundle before SIGUSR1 holds %d roots, want 1", n)
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-bundles:
		if n := len(b.X509Authorities()); n != 2 {
			t.Fatalf("bundle after SIGUSR1 holds %d roots, want 2", n)
		}
		return b.X509Authorities()
	case <-time.After(waitLimit):
		t.Fatalf("no bundle update after SIGUSR1\n%s", p.logs)
		return nil
	}
}

// checkLogs wants each issued SVID logged with its ID, serial and expiry,
// and each refused caller with its pid and executable.
func checkLogs(t *testing.T, logs, id, refusedExe string) {
	t.Helper()
	var issued, refused bool
	for _, line := range strings.Split(logs, "\n") {
		issued = issued || strings.Contains(line, `"issued X.509-SVID"`) && strings.Contains(line, `"spiffe_id":"`+id+`"`) &&
			strings.Contains(line, `"serial":"`) && strings.Contains(line, `"expires":"`)
		refused = refused || strings.Contains(line, `"refused caller`) && strings.Contains(line, `"exe":"`+refusedExe+`"`) &&
			strings.Contains(line, `"pid":`)
	}
	if !issued || !refused {
		t.Errorf("logs: issued SVID logged %v, refused caller logged %v\n%s", issued, refused, logs)
	}
}

type bundleWatcher func(*x509bundle.Set)

func (f bundleWatcher) OnX509BundlesUpdate(s *x509bundle.Set) { f(s) }
func (bundleWatcher) OnX509BundlesWatchError(error)           {}

func writeRegistrations(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registrations.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer collects a process's output safely.
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
