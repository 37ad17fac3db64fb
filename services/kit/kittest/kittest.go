// Package kittest gives tests real SPIFFE identities in a few lines: it starts the local issuer
// in-process on a short temporary socket, registers the running test executable under the SPIFFE
// IDs a test asks for, and hands out a Workload API source per ID. It also starts kit servers and
// makes clients for them, so a test exercises the same mTLS, authorization and rotation code the
// services run.
package kittest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"mercato.dev/certs/issuer"
	"mercato.dev/services/kit/identity"
)

// Env is a running issuer that knows this test executable under some SPIFFE IDs.
type Env struct {
	Issuer *issuer.Issuer
	Addr   string // "unix:///tmp/…/agent.sock", for workloadapi.WithAddr and SPIFFE_ENDPOINT_SOCKET
	exe    string

	mu    sync.Mutex
	ids   []spiffeid.ID
	extra []issuer.Entry // other binaries (see Register)
}

// Option adjusts the issuer's configuration.
type Option func(*issuer.Config)

// WithSVIDTTL sets the lifetime of issued SVIDs (rotation tests use a few seconds).
func WithSVIDTTL(d time.Duration) Option { return func(c *issuer.Config) { c.SVIDTTL = d } }

// WithTrustDomain issues SVIDs of another trust domain (for rejection tests).
func WithTrustDomain(td spiffeid.TrustDomain) Option {
	return func(c *issuer.Config) { c.TrustDomain = td }
}

// Start runs an issuer for the test's lifetime that issues every id to this test executable,
// the first being the default SVID.
func Start(t testing.TB, ids []spiffeid.ID, opts ...Option) *Env {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("kittest: find test executable: %v", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		t.Fatalf("kittest: resolve test executable: %v", err)
	}
	dir := shortTempDir(t)
	env := &Env{exe: exe, ids: ids, Addr: "unix://" + filepath.Join(dir, "agent.sock")}
	cfg := issuer.Config{
		TrustDomain: identity.TrustDomain,
		SocketPath:  filepath.Join(dir, "agent.sock"),
		RootDir:     dir, // every selector kittest writes is absolute
		SVIDTTL:     time.Hour,
		Entries:     env.entries(ids),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if env.Issuer, err = issuer.New(cfg); err != nil {
		t.Fatalf("kittest: new issuer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.Issuer.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kittest: issuer stopped with %v", err)
		}
	})
	select {
	case <-env.Issuer.Ready():
	case err := <-done:
		t.Fatalf("kittest: issuer failed to start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("kittest: issuer not listening after 10s")
	}
	return env
}

// entries registers this executable under each ID.
func (e *Env) entries(ids []spiffeid.ID) []issuer.Entry {
	out := make([]issuer.Entry, 0, len(ids))
	for _, id := range ids {
		out = append(out, issuer.Entry{ID: id, Selectors: []string{"unix:path:" + e.exe}})
	}
	return out
}

// Revoke re-registers the executable under the remaining IDs only: the issuer stops handing
// out SVIDs for the revoked ones.
func (e *Env) Revoke(ids ...spiffeid.ID) {
	e.mu.Lock()
	current := e.ids
	e.mu.Unlock()
	var keep []spiffeid.ID
	for _, id := range current {
		if !contains(ids, id) {
			keep = append(keep, id)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = keep
	e.Issuer.SetEntries(append(e.entries(keep), e.extra...))
}

// Grant registers the test executable under more IDs (a test that runs the broker in-process
// holds the broker's identity too).
func (e *Env) Grant(ids ...spiffeid.ID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		if !contains(e.ids, id) {
			e.ids = append(e.ids, id)
		}
	}
	e.Issuer.SetEntries(append(e.entries(e.ids), e.extra...))
}

func contains(ids []spiffeid.ID, id spiffeid.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// Source returns a Workload API source whose default SVID is id, closed at the end of the test.
func (e *Env) Source(t testing.TB, id spiffeid.ID) *workloadapi.X509Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := identity.Open(ctx, e.Addr, id)
	if err != nil {
		t.Fatalf("kittest: source for %s: %v", id, err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// shortTempDir is a temporary directory with a short path: unix socket paths are limited to
// 107 bytes, which t.TempDir() under a long test name can exceed.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kt")
	if err != nil {
		t.Fatalf("kittest: temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
