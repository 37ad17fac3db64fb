package issuer_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestServePreparesTheSocketPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string // "" when Serve must come up
	}{
		{"missing parent dirs", func(*testing.T, string) {}, ""},
		{"stale socket", leaveStaleSocket, ""},
		{"live socket", keepLiveSocket, "in use"},
		{"regular file", func(t *testing.T, path string) { writeFile(t, path) }, "not a socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, selfEntry(t, "/test/self"))
			cfg.SocketPath = filepath.Join(socketDir(t), "a", "b", "agent.sock")
			tt.prepare(t, cfg.SocketPath)
			if tt.wantErr == "" {
				startIssuer(t, cfg)
				checkPerm(t, filepath.Dir(cfg.SocketPath), 0o755)
				if _, err := workloadClient(t, cfg.SocketPath).FetchX509SVID(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				return
			}
			iss := newIssuer(t, cfg)
			err := iss.Serve(testCtx(t))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Serve = %v, want an error mentioning %q", err, tt.wantErr)
			}
			select {
			case <-iss.Ready():
				t.Error("Ready closed although Serve failed")
			default:
			}
		})
	}
}

func leaveStaleSocket(t *testing.T, path string) {
	t.Helper()
	mkParent(t, path)
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	lis.SetUnlinkOnClose(false)
	lis.Close()
}

func keepLiveSocket(t *testing.T, path string) {
	t.Helper()
	mkParent(t, path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	mkParent(t, path)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestServeStopsStreamsAndRunsOnce(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, selfEntry(t, "/test/self"))
	iss := newIssuer(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- iss.Serve(ctx) }()
	<-iss.Ready()
	if err := iss.Serve(ctx); err == nil {
		t.Error("a second Serve succeeded")
	}

	api := workload.NewSpiffeWorkloadAPIClient(dial(t, cfg.SocketPath))
	stream, err := api.FetchX509SVID(metadata.AppendToOutgoingContext(testCtx(t), "workload.spiffe.io", "true"), &workload.X509SVIDRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("open stream after stop: %v, want Unavailable", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		t.Logf("Serve returned %s after its context ended", time.Since(stopped))
	case <-time.After(waitLimit):
		t.Fatal("Serve did not return")
	}
	if _, err := os.Stat(cfg.SocketPath); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func mkParent(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
}
