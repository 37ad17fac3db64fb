package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ops/stack"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// Settings of the shared platform.
const (
	adminEmail    = "admin@e2e.mercato.test"
	adminPassword = "e2e-admin-password"
	endpointTTL   = 2 * time.Second // XDS_ENDPOINT_TTL: a SIGKILLed instance leaves EDS after this
	xdsWarmup     = 200 * time.Millisecond
)

// services in start order: orders last, it needs the others' addresses.
var services = []string{"customers", "inventory", "payments", "notifications", "orders"}

var packages = map[string]string{
	"customers":     "mercato.dev/services/customers/cmd/customers",
	"inventory":     "mercato.dev/services/inventory/cmd/inventory",
	"orders":        "mercato.dev/services/orders/cmd/orders",
	"payments":      "mercato.dev/services/payments/cmd/payments",
	"notifications": "mercato.dev/services/notifications/cmd/notifications",
	"xds":           "mercato.dev/xds/cmd/xds",
	"edge":          "mercato.dev/edge/cmd/edge",
	"broker":        "mercato.dev/broker/cmd/broker",
}

// testIDs are the identities this test process holds (never the edge's: only the real edge
// binary is the edge). ops/cli and two service identities serve the direct-mTLS tests.
var (
	asOrders   = identity.Service("orders")
	asPayments = identity.Service("payments")
	testIDs    = []spiffeid.ID{identity.OpsCLI, asOrders, asPayments}
)

// platform is everything one test binary shares.
type platform struct {
	env     *kittest.Env
	bins    map[string]string
	nats    string // NATS_URL of the broker
	broker  *proc
	xds     *proc
	xdsADS  string
	xdsReg  string
	svc     map[string]*proc
	edge    *proc
	edgeDir string // the edge's MERCATO_DATA (dev CA and certificate under edge/)

	publicAddr string // 127.0.0.1:port the edge listens on
	base       string // https://localhost:port
	roots      *x509.CertPool
	routes     routesFile

	webAddr string // where TestStorefrontInBrowser serves the storefront; its origin is allowed (CORS)

	inventoryDB string // shared by every inventory instance (PostgreSQL: a SQLite file has one process)
	customersDB string // read by the JWT test for the signing key while customers runs (PostgreSQL)

	adminToken  string
	seedProduct *inventoryv1.Product

	collector *collector // every process exports its spans here (OTLP)
}

var (
	shared      *platform
	sharedErr   string
	sharedSetup time.Duration
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "e2e: -short: the platform is not started; every test skips")
		os.Exit(m.Run())
	}
	tb := &mainTB{}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					sharedErr = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
					return
				}
				sharedErr = tb.message()
			}
		}()
		shared = startPlatform(tb)
	}()
	sharedSetup = time.Since(start)
	if sharedErr == "" {
		tb.Logf("platform ready in %s", sharedSetup.Round(time.Millisecond))
	} else {
		tb.failed = true
	}
	code := m.Run()
	if code != 0 {
		tb.markFailed() // processes print the tail of their logs when they stop
	}
	tb.runCleanups()
	if tb.Failed() && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// the returns the shared platform, or fails the test loudly with why it did not start.
func the(t testing.TB) *platform {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: needs the whole platform (binaries, issuer, broker); run without -short")
	}
	if shared == nil {
		t.Fatalf("e2e: the platform did not start:\n%s", sharedErr)
	}
	return shared
}

func startPlatform(tb testing.TB) *platform {
	p := &platform{svc: map[string]*proc{}, bins: map[string]string{}}
	phase := time.Now()
	step := func(what string) {
		tb.Logf("%-44s %6s", what, time.Since(phase).Round(time.Millisecond))
		phase = time.Now()
	}

	if out, err := exec.Command("go", "env", "GOWORK").Output(); err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		tb.Fatalf("e2e builds every binary of the platform from the go.work workspace, and GOWORK is %q (%v): run from the repository without GOWORK=off", strings.TrimSpace(string(out)), err)
	}
	p.env = kittest.Start(tb, testIDs)
	step("SPIFFE issuer (in-process)")

	// Stripping the symbol table halves link time (7 binaries of ~50 MB on 2 cores); the
	// code under test is the same. A GOFLAGS set by the caller wins.
	if os.Getenv("GOFLAGS") == "" {
		_ = os.Setenv("GOFLAGS", "-ldflags=-s")
	}
	var mu sync.Mutex
	var builds []func()
	for name, pkg := range packages {
		builds = append(builds, func() {
			bin := kittest.Build(tb, pkg)
			// kittest.Build leaves its temporary directory behind (~40 MB a binary); this
			// process is its only user.
			tb.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(bin)) })
			mu.Lock()
			p.bins[name] = bin
			mu.Unlock()
		})
	}
	parallel(tb, builds...)
	step("go build (8 binaries, 2 at a time)")
	p.env.Register(identity.Broker, p.bins["broker"])
	p.env.Register(identity.XDS, p.bins["xds"])
	p.env.Register(identity.Edge, p.bins["edge"])
	for _, s := range services {
		p.env.Register(identity.Service(s), p.bins[s])
	}

	p.broker = startBroker(tb, p.bins["broker"], p.env.Addr)
	p.nats = "tls://" + p.broker.Addr
	step("broker (bin/broker as mercato up runs it) " + p.nats)
	p.collector = startCollector(tb)
	step("OTLP receiver (gRPC and HTTP)")

	// The control plane reads a copy of the repository's routes.yaml (edits in the working
	// tree during a run cannot change it); the listener goes to a free port.
	routes, err := os.ReadFile("../../edge/routes.yaml")
	if err != nil {
		tb.Fatalf("routes.yaml: %v", err)
	}
	if p.routes, err = parseRoutes(routes); err != nil {
		tb.Fatalf("routes.yaml: %v", err)
	}
	p.webAddr = freeAddr(tb)
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), routes, 0o600); err != nil {
		tb.Fatal(err)
	}
	p.edgeDir = tb.TempDir()
	p.publicAddr = freeAddr(tb)
	p.xdsADS, p.xdsReg = freeAddr(tb), freeAddr(tb)
	p.xds = startProc(tb, procSpec{Name: "xds", Bin: p.bins["xds"], AdminVar: "XDS_ADMIN_ADDR", Env: withEnv(map[string]string{
		"SPIFFE_ENDPOINT_SOCKET": p.env.Addr,
		"MERCATO_DATA":           tb.TempDir(),
		"XDS_ROUTES":             filepath.Join(dir, "routes.yaml"),
		"XDS_ADS_ADDR":           p.xdsADS,
		"XDS_REGISTRATION_ADDR":  p.xdsReg,
		"XDS_PUBLIC_ADDR":        p.publicAddr,
		"XDS_EDGE_DATA_DIR":      p.edgeDir,
		"XDS_WARMUP":             xdsWarmup.String(),
		"XDS_ENDPOINT_TTL":       endpointTTL.String(),
		"XDS_CORS_ALLOW_ORIGINS": "http://" + p.webAddr, // the storefront of TestStorefrontInBrowser
	}, p.collector.env(exportProtocol["xds"]))})
	step("xds ready")

	// Inventory runs as several replicas (TestEndpointChurn) and the JWT test reads customers'
	// signing keys while customers runs: both on PostgreSQL, as replicas are deployed (a SQLite
	// database is held by the one process that opened it). The other services keep SQLite.
	p.inventoryDB = dbtest.Postgres(tb)
	p.customersDB = dbtest.Postgres(tb)
	extra := map[string]map[string]string{
		"customers": {
			"CUSTOMERS_DATABASE_URL":   p.customersDB,
			"CUSTOMERS_ADMIN_EMAIL":    adminEmail,
			"CUSTOMERS_ADMIN_PASSWORD": adminPassword,
		},
		"inventory": {"INVENTORY_DATABASE_URL": p.inventoryDB},
	}
	var starts []func()
	for _, s := range services[:4] {
		starts = append(starts, func() {
			pr := p.startService(tb, s, extra[s])
			mu.Lock()
			p.svc[s] = pr
			mu.Unlock()
		})
	}
	starts = append(starts, func() {
		p.edge = startProc(tb, procSpec{Name: "edge", Bin: p.bins["edge"], AdminVar: "EDGE_ADMIN_ADDR", Env: withEnv(map[string]string{
			"SPIFFE_ENDPOINT_SOCKET": p.env.Addr,
			"MERCATO_DATA":           p.edgeDir,
			"EDGE_XDS_ADDR":          p.xdsADS,
			"EDGE_DEV_CERT":          "on",
		}, p.collector.env(exportProtocol["edge"]))})
	})
	parallel(tb, starts...)
	step("customers, inventory, payments, notifications, edge ready")
	p.svc["orders"] = p.startService(tb, "orders", map[string]string{
		"CUSTOMERS_ADDR": p.svc["customers"].Addr,
		"INVENTORY_ADDR": p.svc["inventory"].Addr,
		"PAYMENTS_ADDR":  p.svc["payments"].Addr,
	})
	step("orders ready")

	ca, err := os.ReadFile(filepath.Join(p.edgeDir, "edge", "ca.pem"))
	if err != nil {
		tb.Fatalf("the edge's dev CA: %v", err)
	}
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(ca) {
		tb.Fatalf("no certificate in the edge's ca.pem")
	}
	_, port, _ := net.SplitHostPort(p.publicAddr)
	p.base = "https://localhost:" + port

	// Every cluster has its endpoint in the edge's EDS.
	want := map[string]string{}
	for _, s := range services {
		want[s] = p.svc[s].Addr
	}
	p.waitClusters(tb, 30*time.Second, func(c map[string]map[string]string) string {
		for cl, addr := range want {
			if c[cl][addr] != "healthy" {
				return fmt.Sprintf("cluster %s: endpoints %v, want %s healthy", cl, c[cl], addr)
			}
		}
		return ""
	})
	step("edge has every service's endpoint (EDS)")

	// First calls through the public listener: an anonymous route, then sign-in and a JWT
	// route (the edge fetches the JWKS from customers over mTLS on first use).
	pub := p.client(tb, "connect")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var lastErr error
	for ctx.Err() == nil {
		_, lastErr = pub.inventory.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
		if lastErr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		tb.Fatalf("ListProducts through the edge never answered: %v", lastErr)
	}
	step("first public call answered")
	p.adminToken = p.signIn(tb, pub, adminEmail, adminPassword)
	step("admin signed in (Argon2id)")
	res, err := pub.inventory.CreateProduct(withToken(ctx, p.adminToken), &inventoryv1.CreateProductRequest{
		Sku: "E2E-SEED", Name: "Seed product", Description: "created by ops/e2e at start-up",
		Price: &moneyv1.Money{AmountMinor: 1250, Currency: "EUR"}, InitialStock: 1000,
	})
	if err != nil {
		tb.Fatalf("CreateProduct as admin through the edge (JWKS fetch + admin claims): %v", err)
	}
	p.seedProduct = res.GetProduct()
	step("seed product created as admin (first JWT route)")
	return p
}

// startBroker runs bin/broker with the environment `mercato up` gives it (stack.Local), only
// the data directory, the Workload API socket and the ports adapted.
func startBroker(tb testing.TB, bin, socket string) *proc {
	data := tb.TempDir()
	env := map[string]string{}
	addrs, err := stack.LocalAddrs(func(string) string { return "" }) // mercato up's defaults
	if err != nil {
		tb.Fatal(err)
	}
	for _, kv := range append(stack.Broker(data, addrs).Env, "MERCATO_DATA="+data) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["BROKER_ADDR"] != "127.0.0.1:4333" || env["BROKER_STORE_DIR"] != filepath.Join(data, "nats") {
		tb.Fatalf("mercato up runs the broker with %v: the test adapts BROKER_ADDR and expects the store under the data directory", env)
	}
	env["BROKER_ADDR"] = freeAddr(tb)
	env["SPIFFE_ENDPOINT_SOCKET"] = socket
	return startProc(tb, procSpec{Name: "broker", Bin: bin, AdminVar: "BROKER_ADMIN_ADDR", AddrVar: "BROKER_ADDR", Env: env})
}

// startService runs a kit service: free ports, its own data directory, the test issuer,
// registration with the control plane and the embedded broker.
func (p *platform) startService(tb testing.TB, name string, extra map[string]string) *proc {
	upper := strings.ToUpper(name)
	env := map[string]string{
		"SPIFFE_ENDPOINT_SOCKET": p.env.Addr,
		"MERCATO_DATA":           tb.TempDir(),
		upper + "_ADDR":          freeAddr(tb),
		"XDS_REGISTRATION_ADDR":  p.xdsReg,
		"NATS_URL":               p.nats,
	}
	for k, v := range withEnv(extra, p.collector.env(exportProtocol[name])) {
		env[k] = v
	}
	return startProc(tb, procSpec{Name: name, Bin: p.bins[name], AdminVar: upper + "_ADMIN_ADDR", AddrVar: upper + "_ADDR", Env: env})
}

func (p *platform) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: p.roots, MinVersion: tls.VersionTLS12}
}

// parallel runs fns at once and fails tb (on this goroutine) if any of them failed.
func parallel(tb testing.TB, fns ...func()) {
	tb.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var msgs []string
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					defer mu.Unlock()
					if _, ok := r.(fatal); ok {
						msgs = append(msgs, "(see above)")
						return
					}
					msgs = append(msgs, fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
				}
			}()
			fn()
		}()
	}
	wg.Wait()
	if len(msgs) > 0 {
		sort.Strings(msgs)
		tb.Fatalf("%d of %d parallel start-up steps failed: %s", len(msgs), len(fns), strings.Join(msgs, "\n"))
	}
}

// handedOut are the addresses freeAddr has returned: the kernel may offer a port again once its
// listener is closed, and two listeners of the platform given the same port fail at start-up
// (the edge's public listener once got the control plane's ADS port).
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// freeAddr returns a free loopback address that no earlier call returned.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}

// fatal is what mainTB panics with on Fatal: the platform start-up is abandoned.
type fatal struct{}

// mainTB is the testing.TB of TestMain, where no *testing.T exists: kittest needs one for
// Cleanup, TempDir and failures. Cleanups run after every test; Fatal unwinds the start-up.
// Methods it does not override panic (the embedded TB is nil), which no helper here calls.
type mainTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	msgs     []string
}

func (m *mainTB) Helper()      {}
func (m *mainTB) Name() string { return "e2e-platform" }

func (m *mainTB) Log(args ...any) { m.Logf("%s", fmt.Sprintln(args...)) }

// Logf prints at once; very long messages (a process's whole log) keep their tail.
func (m *mainTB) Logf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	const max = 12 << 10
	if len(s) > max {
		s = "…(" + fmt.Sprint(len(s)-max) + " bytes cut)…\n" + s[len(s)-max:]
	}
	fmt.Fprintf(os.Stderr, "%s e2e: %s\n", time.Now().Format("15:04:05.000"), strings.TrimRight(s, "\n"))
}

func (m *mainTB) Errorf(format string, args ...any) {
	m.mu.Lock()
	m.failed = true
	m.msgs = append(m.msgs, fmt.Sprintf(format, args...))
	m.mu.Unlock()
	m.Logf("ERROR: "+format, args...)
}
func (m *mainTB) Error(args ...any) { m.Errorf("%s", fmt.Sprint(args...)) }
func (m *mainTB) Fatalf(format string, args ...any) {
	m.Errorf(format, args...)
	panic(fatal{})
}
func (m *mainTB) Fatal(args ...any) { m.Fatalf("%s", fmt.Sprint(args...)) }
func (m *mainTB) Failed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failed
}
func (m *mainTB) markFailed() { m.mu.Lock(); m.failed = true; m.mu.Unlock() }
func (m *mainTB) message() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.msgs, "\n")
}
func (m *mainTB) Cleanup(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleanups = append(m.cleanups, f)
}
func (m *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		m.Fatalf("temp dir: %v", err)
	}
	m.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
func (m *mainTB) runCleanups() {
	for {
		m.mu.Lock()
		if len(m.cleanups) == 0 {
			m.mu.Unlock()
			return
		}
		f := m.cleanups[len(m.cleanups)-1]
		m.cleanups = m.cleanups[:len(m.cleanups)-1]
		m.mu.Unlock()
		func() {
			defer func() {
				if r := recover(); r != nil {
					m.Logf("cleanup panicked: %v", r)
				}
			}()
			f()
		}()
	}
}
