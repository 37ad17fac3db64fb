//go:build spire

package spire_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"mercato.dev/certs/x509pop"
	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
)

// The scenario's lifetimes: short SVIDs so that a few minutes see many rotations.
const (
	svidTTL  = 30 * time.Second // default_x509_svid_ttl
	agentTTL = 40 * time.Second // agent_ttl: the agent's own SVID
	agentCN  = "mercato-compose-agent"
)

var services = []string{"customers", "inventory", "payments", "orders"}

func TestSPIRE(t *testing.T) {
	bins := os.Getenv("SPIRE_BIN_DIR")
	if bins == "" {
		t.Fatal("SPIRE_BIN_DIR is unset: run `make test-spire`, which builds SPIRE and sets it")
	}
	for _, b := range []string{"spire-server", "spire-agent"} {
		if _, err := os.Stat(filepath.Join(bins, b)); err != nil {
			t.Fatalf("SPIRE binary missing: %v", err)
		}
	}
	dir, err := os.MkdirTemp("", "msp") // short: unix socket paths ≤ 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &stack{t: t, dir: dir, spireBin: bins, procs: map[string]*proc{}}

	s.startServer()
	s.startAgent()
	s.register()
	s.startServices()
	s.seed()

	load := s.startLoad(6)
	t.Logf("phase 1: load with %s SVIDs for %s", svidTTL, 2*svidTTL)
	time.Sleep(2 * svidTTL)
	s.rotateCA(load)
	t.Logf("phase 3: %s more after the CA rotation", svidTTL)
	time.Sleep(svidTTL)
	res := load.stop()
	t.Logf("load: %d requests, %d failed; SVIDs seen per workload: %s; CA certificates seen: %d",
		res.requests, res.failed, s.rotations(), len(s.cas))
	for _, e := range res.errors {
		t.Logf("  failure: %s", e)
	}
	if res.failed != 0 {
		t.Errorf("%d of %d calls failed across SVID and CA rotations", res.failed, res.requests)
	}
	if res.requests < 1000 {
		t.Errorf("only %d requests: the load did not run", res.requests)
	}
	for _, w := range append(services, "edge (test client)") {
		if n := len(s.serials[w]); n < 3 {
			t.Errorf("%s: %d SVIDs seen, want rotations (≥ 3)", w, n)
		}
	}
	if len(s.cas) < 2 {
		t.Errorf("%d CA certificates signed the SVIDs seen, want the old and the new one", len(s.cas))
	}

	s.agentOutage()
}

// stack is the SPIRE server and agent and the services under test.
type stack struct {
	t          *testing.T
	dir        string
	spireBin   string
	serverSock string
	serverPort string
	agentSock  string
	agentConf  string
	procs      map[string]*proc
	addrs      map[string]string
	src        *workloadapi.X509Source
	customer   string
	product    string

	mu      sync.Mutex
	serials map[string]map[string]bool // workload → SVID serials seen
	cas     map[string]bool            // issuing CA subject key IDs seen
}

// adapt replaces each old string of the shipped configuration, failing when one is missing
// (the shipped file changed shape: adapt the test, never the intent).
func adapt(t *testing.T, conf string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(conf, pairs[i]) {
			t.Fatalf("shipped configuration has no %q to adapt", pairs[i])
		}
		conf = strings.ReplaceAll(conf, pairs[i], pairs[i+1])
	}
	return conf
}

func (s *stack) startServer() {
	t := s.t
	shipped := read(t, "../../certs/spire/compose/server.conf")
	srv := filepath.Join(s.dir, "s")
	mkdir(t, srv)
	if err := x509pop.Ensure(filepath.Join(s.dir, "x"), agentCN, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.serverSock = filepath.Join(srv, "api.sock")
	s.serverPort = freePort(t)
	health := freePort(t)
	conf := adapt(t, shipped,
		`bind_address = "0.0.0.0"`, `bind_address = "127.0.0.1"`,
		`bind_port = "8081"`, `bind_port = "`+s.serverPort+`"`,
		`bind_port = "8080"`, `bind_port = "`+health+`"`,
		"/tmp/spire-server/private/api.sock", s.serverSock,
		"/var/lib/spire/server", srv,
		"/run/spire/bootstrap/x509pop/ca.pem", filepath.Join(s.dir, "x", x509pop.CAFile),
		`default_x509_svid_ttl = "1h"`, fmt.Sprintf(`default_x509_svid_ttl = "%s"`, svidTTL),
		`agent_ttl = "1h"`, fmt.Sprintf(`agent_ttl = "%s"`, agentTTL),
	)
	file := filepath.Join(srv, "server.conf")
	write(t, file, conf)
	s.procs["spire-server"] = start(t, "spire-server", filepath.Join(s.spireBin, "spire-server"), nil, "run", "-config", file)
	waitHTTP(t, "spire-server", "http://127.0.0.1:"+health+"/ready", 60*time.Second)
	bundle := s.spire("bundle", "show")
	write(t, filepath.Join(s.dir, "bundle.pem"), bundle)
}

func (s *stack) startAgent() {
	t := s.t
	shipped := read(t, "../../certs/spire/compose/agent.conf")
	agent := filepath.Join(s.dir, "a")
	mkdir(t, agent)
	s.agentSock = filepath.Join(agent, "agent.sock")
	health := freePort(t)
	conf := adapt(t, shipped,
		"/var/lib/spire/agent", agent,
		`server_address = "spire-server"`, `server_address = "127.0.0.1"`,
		`server_port = "8081"`, `server_port = "`+s.serverPort+`"`,
		"/run/spire/sockets/agent.sock", s.agentSock,
		"/run/spire/bootstrap/bundle.pem", filepath.Join(s.dir, "bundle.pem"),
		"/run/spire/bootstrap/x509pop/agent.pem", filepath.Join(s.dir, "x", x509pop.AgentFile),
		"/run/spire/bootstrap/x509pop/agent-key.pem", filepath.Join(s.dir, "x", x509pop.AgentKeyFile),
		`bind_address = "0.0.0.0"`, `bind_address = "127.0.0.1"`,
		`bind_port = "8080"`, `bind_port = "`+health+`"`,
	)
	s.agentConf = filepath.Join(agent, "agent.conf")
	write(t, s.agentConf, conf)
	s.runAgent(health)
}

func (s *stack) runAgent(health string) {
	s.procs["spire-agent"] = start(s.t, "spire-agent", filepath.Join(s.spireBin, "spire-agent"), nil, "run", "-config", s.agentConf)
	waitHTTP(s.t, "spire-agent", "http://127.0.0.1:"+health+"/ready", 60*time.Second)
}

// spire runs a spire-server command against the test server's admin socket.
func (s *stack) spire(args ...string) string {
	s.t.Helper()
	// The flag follows the (sub)command words: `localauthority x509 show -socketPath … -output json`.
	i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") })
	if i < 0 {
		i = len(args)
	}
	args = slices.Concat(args[:i], []string{"-socketPath", s.serverSock}, args[i:])
	out, err := exec.Command(filepath.Join(s.spireBin, "spire-server"), args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("spire-server %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// register runs the shipped entries.sh (SELECTOR=unix) through a wrapper that adds the test
// server's socket, and registers this test binary as the edge (the caller of the load).
func (s *stack) register() {
	t := s.t
	bin := filepath.Join(s.dir, "bin")
	mkdir(t, bin)
	pkgs := []string{}
	for _, svc := range services {
		pkgs = append(pkgs, "mercato.dev/services/"+svc+"/cmd/"+svc)
	}
	start := time.Now()
	if out, err := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", strings.Join(services, ", "), time.Since(start).Round(time.Second))
	wrapper := filepath.Join(s.dir, "spire-server.sh")
	write(t, wrapper, fmt.Sprintf("#!/bin/sh\nc1=$1; c2=$2; shift 2\nexec %s \"$c1\" \"$c2\" -socketPath %s \"$@\"\n",
		filepath.Join(s.spireBin, "spire-server"), s.serverSock))
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "../../certs/spire/compose/entries.sh")
	cmd.Env = append(os.Environ(), "SELECTOR=unix", "BIN_DIR="+bin, "SPIRE_SERVER="+wrapper, "AGENT_CN="+agentCN)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("entries.sh: %v\n%s", err, out)
	} else {
		t.Logf("entries.sh (SELECTOR=unix):\n%s", strings.TrimSpace(string(out)))
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s.spire("entry", "create", "-parentID", "spiffe://mercato.local/agent/compose",
		"-spiffeID", identity.Edge.String(), "-selector", "unix:path:"+exe)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start = time.Now()
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+s.agentSock)))
	if err != nil {
		t.Fatalf("the test's SVID from the SPIRE agent: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	s.src = src
	svid, _ := src.GetX509SVID()
	t.Logf("test client holds %s from SPIRE after %s", svid.ID, time.Since(start).Round(time.Millisecond))
	s.serials = map[string]map[string]bool{}
	s.cas = map[string]bool{}
	go s.watchOwnSVID()
}

func (s *stack) startServices() {
	s.addrs = map[string]string{}
	for _, svc := range services {
		s.addrs[svc] = "127.0.0.1:" + freePort(s.t)
	}
	for _, svc := range services {
		up := strings.ToUpper(svc)
		admin := "127.0.0.1:" + freePort(s.t)
		env := []string{
			"SPIFFE_ENDPOINT_SOCKET=unix://" + s.agentSock,
			"MERCATO_DATA=" + s.t.TempDir(),
			up + "_ADMIN_ADDR=" + admin,
			"XDS_REGISTRATION_ADDR=off",
			"NATS_URL=nats://127.0.0.1:1", // producers keep serving without a broker (the outbox holds events)
			"DRAIN_TIMEOUT=5s",
		}
		for peer, addr := range s.addrs {
			env = append(env, strings.ToUpper(peer)+"_ADDR="+addr)
		}
		s.procs[svc] = start(s.t, svc, filepath.Join(s.dir, "bin", svc), env)
		waitHTTP(s.t, svc, "http://"+admin+"/readyz", 90*time.Second)
	}
}

// client is a plain mTLS client holding the edge's SVID, with no retries: every failure counts.
func (s *stack) client(server string) *http.Client {
	tr := &http.Transport{TLSClientConfig: identity.ClientTLS(s.src, identity.Service(server)), ForceAttemptHTTP2: true}
	s.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

type claimsKey struct{}

// withClaims makes ctx carry the claims the edge would forward for a verified token.
func withClaims(ctx context.Context, c claims.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, claims.Encode(c))
}

// forwardClaims sets the claims header from the context, as the edge does.
var forwardClaims = connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if v, ok := ctx.Value(claimsKey{}).(string); ok {
			req.Header().Set(claims.Header, v)
		}
		return next(ctx, req)
	}
}))

func (s *stack) seed() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cust := customersv1connect.NewCustomerServiceClient(s.client("customers"), "https://"+s.addrs["customers"])
	res, err := cust.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{
		Email: "spire@mercato.test", Password: "spire-test-password", DisplayName: "SPIRE test",
	})
	if err != nil {
		s.t.Fatalf("CreateCustomer: %v", err)
	}
	s.customer = res.GetCustomer().GetCustomerId()
	inv := inventoryv1connect.NewInventoryServiceClient(s.client("inventory"), "https://"+s.addrs["inventory"], forwardClaims)
	admin := withClaims(ctx, claims.Claims{Subject: uuid.NewString(), Roles: []string{claims.RoleAdmin}})
	p, err := inv.CreateProduct(admin, &inventoryv1.CreateProductRequest{
		Sku: "SPIRE-1", Name: "SPIRE test product", Description: "stock for the rotation scenario",
		Price: &moneyv1.Money{AmountMinor: 500, Currency: "EUR"}, InitialStock: 1_000_000,
	})
	if err != nil {
		s.t.Fatalf("CreateProduct: %v", err)
	}
	s.product = p.GetProduct().GetProductId()
}

// load is the traffic of the scenario: one worker places orders (orders → customers,
// inventory, payments), the others read products and customers.
type load struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	requests atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	errors   []string
}

type loadResult struct {
	requests, failed int64
	errors           []string
}

func (s *stack) startLoad(workers int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	orders := ordersv1connect.NewOrderServiceClient(s.client("orders"), "https://"+s.addrs["orders"], forwardClaims)
	inv := inventoryv1connect.NewInventoryServiceClient(s.client("inventory"), "https://"+s.addrs["inventory"])
	cust := customersv1connect.NewCustomerServiceClient(s.client("customers"), "https://"+s.addrs["customers"], forwardClaims)
	owner := claims.Claims{Subject: s.customer, Roles: []string{claims.RoleCustomer}}
	for i := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				callCtx, done := context.WithTimeout(withClaims(ctx, owner), 10*time.Second)
				var err error
				switch {
				case i == 0:
					err = s.order(callCtx, orders)
				case n%2 == 0:
					_, err = inv.GetProduct(callCtx, &inventoryv1.GetProductRequest{ProductId: s.product})
				default:
					_, err = cust.GetCustomer(callCtx, &customersv1.GetCustomerRequest{CustomerId: s.customer})
				}
				done()
				if ctx.Err() != nil {
					return // stopped mid-call: not a failure of the platform
				}
				l.requests.Add(1)
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errors) < 20 {
						l.errors = append(l.errors, time.Now().Format("15:04:05.000")+" "+err.Error())
					}
					l.mu.Unlock()
				}
			}
		}()
	}
	go s.watchServers(ctx)
	return l
}

// order places one order of one unit and wants it CONFIRMED.
func (s *stack) order(ctx context.Context, orders ordersv1connect.OrderServiceClient) error {
	res, err := orders.CreateOrder(ctx, &ordersv1.CreateOrderRequest{
		CustomerId: s.customer, IdempotencyKey: uuid.NewString(), PaymentMethod: "pm_card_visa",
		Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: s.product, Quantity: 1}},
	})
	if err == nil && res.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
		err = fmt.Errorf("order %s", res.GetOrder().GetStatus())
	}
	return err
}

func (l *load) stop() loadResult {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadResult{l.requests.Load(), l.failed.Load(), l.errors}
}

// watchServers handshakes with every service each half second and records the SVID it
// presents and the CA that signed it.
func (s *stack) watchServers(ctx context.Context) {
	for ctx.Err() == nil {
		for _, svc := range services {
			cfg := identity.ClientTLS(s.src, identity.Service(svc))
			d := &net.Dialer{Timeout: 2 * time.Second}
			conn, err := tls.DialWithDialer(d, "tcp", s.addrs[svc], cfg)
			if err != nil {
				continue
			}
			leaf := conn.ConnectionState().PeerCertificates[0]
			_ = conn.Close()
			s.record(svc, leaf.SerialNumber.String(), fmt.Sprintf("%x", leaf.AuthorityKeyId))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (s *stack) watchOwnSVID() {
	w := &svidWatcher{s: s}
	_ = workloadapi.WatchX509Context(context.Background(), w, workloadapi.WithAddr("unix://"+s.agentSock))
}

type svidWatcher struct{ s *stack }

func (w *svidWatcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	if svid := c.DefaultSVID(); svid != nil {
		leaf := svid.Certificates[0]
		w.s.record("edge (test client)", leaf.SerialNumber.String(), fmt.Sprintf("%x", leaf.AuthorityKeyId))
	}
}
func (w *svidWatcher) OnX509ContextWatchError(error) {}

func (s *stack) record(workload, serial, ca string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serials[workload] == nil {
		s.serials[workload] = map[string]bool{}
	}
	s.serials[workload][serial] = true
	s.cas[ca] = true
}

func (s *stack) rotations() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for _, w := range append(services, "edge (test client)") {
		parts = append(parts, fmt.Sprintf("%s %d", w, len(s.serials[w])))
	}
	return strings.Join(parts, ", ")
}

// authorities is `spire-server localauthority x509 show -output json`.
type authorities struct {
	Active   authority `json:"active"`
	Prepared authority `json:"prepared"`
	Old      authority `json:"old"`
}

type authority struct {
	AuthorityID string `json:"authority_id"`
}

func (s *stack) authorities() authorities {
	var a authorities
	out := s.spire("localauthority", "x509", "show", "-output", "json")
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		s.t.Fatalf("localauthority x509 show: %v\n%s", err, out)
	}
	return a
}

// rotateCA rotates the X.509 authority as ARCHITECTURE.md asks: the new root is in the bundle
// an SVID lifetime before it signs, and the old one leaves only once nothing it signed is alive.
func (s *stack) rotateCA(l *load) {
	t := s.t
	old := s.authorities().Active.AuthorityID
	s.spire("localauthority", "x509", "prepare")
	next := s.authorities().Prepared.AuthorityID
	t.Logf("phase 2: CA rotation: prepared %s (active %s); waiting %s for the bundle to spread", next, old, svidTTL)
	time.Sleep(svidTTL)
	s.spire("localauthority", "x509", "activate", "-authorityID", next)
	t.Logf("  activated %s; waiting %s for every SVID to be re-signed", next, 3*svidTTL/2)
	time.Sleep(3 * svidTTL / 2)
	s.spire("localauthority", "x509", "taint", "-authorityID", old)
	t.Logf("  tainted %s; waiting %s", old, svidTTL/2)
	time.Sleep(svidTTL / 2)
	s.spire("localauthority", "x509", "revoke", "-authorityID", old)
	t.Logf("  revoked %s (out of the bundle); %d requests so far, %d failed", old, l.requests.Load(), l.failed.Load())
}

// agentOutage stops the agent for longer than its own SVID lives, starts it again and waits
// for it to re-attest with its x509pop certificate and serve SVIDs, then for an order to go
// through.
func (s *stack) agentOutage() {
	t := s.t
	agent := s.procs["spire-agent"]
	agent.stop()
	down := agentTTL + 10*time.Second
	t.Logf("phase 4: agent stopped for %s (its own SVID lives %s)", down, agentTTL)
	time.Sleep(down)
	before := strings.Count(agent.logs.String(), "Node attestation was successful")
	health := ""
	for _, line := range strings.Split(read(t, s.agentConf), "\n") {
		if strings.Contains(line, "bind_port") {
			health = strings.Trim(strings.TrimSpace(strings.SplitN(line, "=", 2)[1]), `"`)
		}
	}
	restart := time.Now()
	s.runAgent(health)
	logs := s.procs["spire-agent"].logs.String()
	if !strings.Contains(logs, "Node attestation was successful") || !strings.Contains(logs, "SVID is expired") {
		t.Errorf("restarted agent did not re-attest after its SVID expired (before: %d attestations)\n%s", before, tail(logs))
	}
	orders := ordersv1connect.NewOrderServiceClient(s.client("orders"), "https://"+s.addrs["orders"], forwardClaims)
	owner := claims.Claims{Subject: s.customer, Roles: []string{claims.RoleCustomer}}
	deadline := time.Now().Add(120 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(withClaims(context.Background(), owner), 10*time.Second)
		err = s.order(ctx, orders)
		cancel()
		if err == nil {
			t.Logf("agent re-attested and an order was CONFIRMED %s after the agent restarted", time.Since(restart).Round(time.Millisecond))
			return
		}
		time.Sleep(time.Second)
	}
	t.Errorf("no order confirmed within 120 s of the agent's restart: %v", err)
}

// proc is a process of the scenario; it is stopped (SIGTERM, then SIGKILL) at the end.
type proc struct {
	name   string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	once   sync.Once
}

func start(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, tail(p.logs.String()))
		}
	})
	return p
}

func (p *proc) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
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

func tail(s string) string {
	const max = 6000
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// waitHTTP polls url until it answers 200; it waits long and reports how long it took.
func waitHTTP(t *testing.T, name, url string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Since(start) < timeout {
		if res, err := c.Get(url); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Logf("%s ready in %s", name, time.Since(start).Round(time.Millisecond))
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s after %s", name, url, timeout)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}
