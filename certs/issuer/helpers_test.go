package issuer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"mercato.dev/certs/issuer"
)

var td = spiffeid.RequireTrustDomainFromString("mercato.local")

// waitLimit bounds every wait for something the issuer should do within a
// few seconds; generous for a loaded two-core machine.
const waitLimit = 30 * time.Second

// selfPath is this test binary, as /proc/<pid>/exe shows it to the issuer.
func selfPath(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	return resolved
}

// selfEntry registers this test binary under path.
func selfEntry(t *testing.T, path string, extra ...string) issuer.Entry {
	t.Helper()
	return issuer.Entry{
		ID:        spiffeid.RequireFromPath(td, path),
		Selectors: append([]string{"unix:path:" + selfPath(t)}, extra...),
	}
}

// socketDir returns a short temporary directory (unix socket paths are
// limited to 107 bytes, which t.TempDir can exceed).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testConfig is an in-memory issuer on a fresh socket.
func testConfig(t *testing.T, entries ...issuer.Entry) issuer.Config {
	t.Helper()
	return issuer.Config{
		TrustDomain: td,
		SocketPath:  filepath.Join(socketDir(t), "agent.sock"),
		RootDir:     t.TempDir(),
		Entries:     entries,
		Logger:      testLogger(t),
	}
}

// startIssuer serves cfg until the test ends, then checks Serve returned
// nil and removed the socket.
func startIssuer(t *testing.T, cfg issuer.Config) *issuer.Issuer {
	t.Helper()
	iss, err := issuer.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- iss.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Stat(cfg.SocketPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s left behind (stat: %v)", cfg.SocketPath, err)
		}
	})
	select {
	case <-iss.Ready():
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("issuer not ready")
	}
	return iss
}

// testCtx is cancelled when the test ends or after waitLimit.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a raw gRPC connection to the socket.
func dial(t *testing.T, sock string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// workloadClient is go-spiffe's own Workload API client.
func workloadClient(t *testing.T, sock string) *workloadapi.Client {
	t.Helper()
	client, err := workloadapi.New(testCtx(t), workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// testLogger logs through t until the test's cleanups run, then drops
// lines, so that a late log line never panics the test binary.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close) // registered first, so it runs after the issuer stopped
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu     sync.Mutex
	t      *testing.T
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(string(p[:len(p)-1]))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

// uidSelector selects this process's user.
func uidSelector() string { return "unix:uid:" + strconv.Itoa(os.Getuid()) }
