package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/proto/gen/go/mercato/xds/v1/xdsv1connect"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"

	"mercato.dev/xds/internal/app"
)

var (
	ordersID    = identity.Service("orders")
	inventoryID = identity.Service("inventory")
	customersID = identity.Service("customers")
	testIDs     = []spiffeid.ID{identity.XDS, identity.Edge, ordersID, inventoryID, customersID}
)

// The gRPC xDS client's bootstrap. gRPC-Go reads GRPC_XDS_BOOTSTRAP_CONFIG into a package
// variable while its packages initialise, before TestMain runs: setting it in TestMain is too
// late. So TestMain picks the ADS address and the files the bootstrap names, then runs this
// test binary again with the variable in its environment.
const (
	bootstrapEnv = "GRPC_XDS_BOOTSTRAP_CONFIG"
	dirEnv       = "XDSTEST_DIR"      // where the gRPC client's SVID files go
	adsAddrEnv   = "XDSTEST_ADS_ADDR" // where the gRPC test's control plane serves ADS
)

func TestMain(m *testing.M) {
	if os.Getenv(bootstrapEnv) == "" {
		if err := reexecWithBootstrap(); err != nil {
			fmt.Fprintln(os.Stderr, "TestMain:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(os.Getenv(dirEnv))
	os.Exit(code)
}

func reexecWithBootstrap() error {
	dir, err := os.MkdirTemp("", "xdsboot")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(os.Environ(), bootstrapEnv+"="+bootstrap(addr, dir), dirEnv+"="+dir, adsAddrEnv+"="+addr,
		"GRPC_EXPERIMENTAL_XDS_MTLS_SPIFFE=true") // gRFC A87: trust roots from a SPIFFE bundle map
	return syscall.Exec(exe, os.Args, env) // returns only on failure
}

// bootstrap is gRPC's xDS bootstrap: the control plane at addr over mTLS, node "grpc-test".
// The channel credentials are the standard "tls" type with files the test writes from its
// SVID. The server is verified against a SPIFFE bundle map (gRFC A87) rather than
// ca_certificate_file: an SVID has only a URI SAN, and plain TLS verification insists on the
// server address (127.0.0.1) being in the certificate.
func bootstrap(addr, dir string) string {
	return fmt.Sprintf(`{
  "xds_servers": [{
    "server_uri": %q,
    "channel_creds": [{"type": "tls", "config": {
      "certificate_file": %q, "private_key_file": %q, "spiffe_trust_bundle_map_file": %q}}],
    "server_features": ["xds_v3"]
  }],
  "node": {"id": "grpc-test", "cluster": "tests"}
}`, addr, filepath.Join(dir, "svid.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "bundles.json"))
}

// plane is a control plane running in the test process.
type plane struct {
	*app.App
	routes string
	logs   *syncBuffer
	logger *slog.Logger
}

// startPlane runs a control plane on loopback ports serving routes (the content of a routes
// file), with the SVID of spiffe://mercato.local/xds.
func startPlane(t *testing.T, env *kittest.Env, routes string, tune ...func(*app.Config)) *plane {
	t.Helper()
	dir := t.TempDir()
	p := &plane{routes: filepath.Join(dir, "routes.yaml"), logs: &syncBuffer{}}
	writeRoutes(t, p.routes, routes)
	cfg := app.Config{
		ADSAddr: "127.0.0.1:0", RegistrationAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		RoutesFile: p.routes, DataDir: dir, EndpointTTL: 15 * time.Second, DrainTimeout: 2 * time.Second,
	}
	for _, f := range tune {
		f(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p.logger = logger
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, env.Source(t, identity.XDS), logger)
	if err != nil {
		cancel()
		t.Fatalf("start control plane: %v", err)
	}
	p.App = a
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("control plane stopped with %v", err)
		}
		if t.Failed() {
			t.Logf("control plane logs:\n%s", p.logs.String())
		}
	})
	return p
}

// repoRoutes is edge/routes.yaml with each edit (old, new pairs) applied once.
func repoRoutes(t *testing.T, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile("../../../edge/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(doc, edits[i]) {
			t.Fatalf("edit: %q not in routes.yaml", edits[i])
		}
		doc = strings.Replace(doc, edits[i], edits[i+1], 1)
	}
	return doc
}

// writeRoutes replaces the routes file atomically, as editors and ConfigMap updates do.
func writeRoutes(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// registrar is a registration client calling as caller.
func registrar(t *testing.T, env *kittest.Env, caller spiffeid.ID, p *plane) xdsv1connect.RegistrationServiceClient {
	t.Helper()
	conn := env.Dial(t, caller, p.RegistrationAddr(), identity.XDS)
	return xdsv1connect.NewRegistrationServiceClient(conn.HTTPClient, conn.BaseURL, conn.Options()...)
}

// readyz returns /readyz's status and checks.
func readyz(t *testing.T, p *plane) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + p.AdminAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

// metric returns the value of the first sample whose line starts with prefix, "" if none.
func metric(t *testing.T, p *plane, prefix string) string {
	t.Helper()
	res, err := http.Get("http://" + p.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

// eventually polls cond until it holds or timeout passes, returning the time it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
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
