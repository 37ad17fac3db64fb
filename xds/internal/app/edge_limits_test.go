package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/registration"
	"mercato.dev/services/kit/server"

	"mercato.dev/xds/internal/app"
)

// limitedEdge is the real dev edge binary serving the repository's routes.yaml through this
// control plane, with a connection cap of 24 and inventory's timeout shortened to 1 s; behind
// it, a held inventory and a customers stand-in that serves a JWKS and refuses every sign-in.
type limitedEdge struct {
	base      string // https://host:port of the public listener
	addr      string
	ca        *x509.CertPool
	caFile    string
	inventory *heldInventory
	customers *customersStandIn
	signer    jose.Signer
	admin     string // the dev edge's /metrics
}

// metric is the value of the dev edge's sample named name ("" when absent).
func (e *limitedEdge) metric(t *testing.T, name string) string {
	t.Helper()
	res, err := http.Get("http://" + e.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

const edgeMaxConnections = 24

func startLimitedEdge(t *testing.T) *limitedEdge {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the dev edge")
	}
	if out, err := exec.Command("go", "env", "GOWORK").Output(); err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		t.Skip("needs the workspace (go.work) to build mercato.dev/edge/cmd/edge; run from the repository")
	}
	env := kittest.Start(t, testIDs)
	bin := kittest.Build(t, "mercato.dev/edge/cmd/edge")
	env.Register(identity.Edge, bin)
	data, public := t.TempDir(), freeAddr(t)
	routes := repoRoutes(t,
		"max_connections: 10000", fmt.Sprintf("max_connections: %d", edgeMaxConnections),
		"    spiffe_id: spiffe://mercato.local/svc/inventory\n",
		"    spiffe_id: spiffe://mercato.local/svc/inventory\n    timeout: 1s\n    retry: {per_try_timeout: 400ms}\n")
	p := startPlane(t, env, routes, func(c *app.Config) { c.EdgeDataDir, c.PublicAddr = data, public })
	e := &limitedEdge{base: "https://" + public, addr: public, inventory: serveInventory(t, env, p), customers: &customersStandIn{}}
	e.signer = serveCustomersStandIn(t, env, p, e.customers)
	proc := env.StartService(t, "edge", bin, map[string]string{"EDGE_XDS_ADDR": p.ADSAddr(), "MERCATO_DATA": data, "EDGE_DEV_CERT": "on"})
	e.admin = proc.AdminAddr
	e.caFile = filepath.Join(data, "edge", "ca.pem")
	client := publicClient(t, e.caFile)
	e.ca = client.Transport.(*http.Transport).TLSClientConfig.RootCAs
	took := eventually(t, 15*time.Second, "GetProduct through the edge", func() bool {
		code, _, _ := call(t, client, http.MethodPost, e.base+inventoryv1connect.InventoryServiceGetProductProcedure, `{"productId":"`+quickProduct+`"}`, nil)
		return code == http.StatusOK
	})
	t.Logf("edge serving after %s", took.Round(time.Millisecond))
	client.Transport.(*http.Transport).CloseIdleConnections()
	return e
}

// customersStandIn serves the JWKS of a key the test signs with, and answers every sign-in
// "unauthenticated" after a little work, as a wrong password would.
type customersStandIn struct {
	customersv1connect.UnimplementedCustomerServiceHandler
	clients sync.Map // client addresses seen (from the edge's header, as the kit believes it)
}

func (c *customersStandIn) SignIn(ctx context.Context, _ *customersv1.SignInRequest) (*customersv1.SignInResponse, error) {
	addr, ok := claims.ClientAddress(ctx)
	c.clients.Store(fmt.Sprint(addr, ok), true)
	time.Sleep(5 * time.Millisecond)
	return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("wrong email or password"))
}

func serveCustomersStandIn(t *testing.T, env *kittest.Env, p *plane, standIn *customersStandIn) jose.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	const jwksPath = "/.well-known/jwks.json"
	srv := env.Serve(t, "customers", func(s *server.Server) {
		path, h := customersv1connect.NewCustomerServiceHandler(standIn, s.HandlerOptions()...)
		s.Handle(path, h, authz.Rules{customersv1connect.CustomerServiceSignInProcedure: authz.Allow(identity.Edge)})
		s.Handle(jwksPath, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jwks)
		}), authz.Rules{jwksPath: authz.Allow(identity.Edge)})
	})
	conn := env.Dial(t, customersID, p.RegistrationAddr(), identity.XDS)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	port := srv.Addr()[strings.LastIndexByte(srv.Addr(), ':')+1:]
	go func() { defer close(done); _ = registration.Run(ctx, conn, "customers", "127.0.0.1", port, p.logger) }()
	t.Cleanup(func() { cancel(); <-done })
	return signer
}

func (e *limitedEdge) token(t *testing.T, audience string) string {
	t.Helper()
	now := time.Now()
	claims := struct {
		josejwt.Claims
		Roles []string `json:"roles"`
	}{josejwt.Claims{
		Issuer: "mercato.customers", Audience: josejwt.Audience{audience}, Subject: "00000000-0000-4000-8000-0000000000aa",
		IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(15 * time.Minute)),
	}, []string{"customer"}}
	tok, err := josejwt.Signed(e.signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// httpClient is a fresh HTTP/2 client trusting the edge's dev CA.
func (e *limitedEdge) httpClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// protocols are the ways a client reaches the edge.
var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect+json", []connect.ClientOption{connect.WithProtoJSON()}},
	{"connect+proto", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
}

func withBearer(tok string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	}))
}

// TestLocalRepliesAreProtocolErrors: every answer the edge makes itself reaches a Connect
// client (JSON and binary) as a Connect error with the right code and message, and a gRPC and
// a gRPC-Web client as the right gRPC status — the format comes from the HCM's
// local_reply_config the control plane sends, which the dev edge applies.
func TestLocalRepliesAreProtocolErrors(t *testing.T) {
	e := startLimitedEdge(t)
	hc := e.httpClient(t)
	big := strings.Repeat("x", 2<<20) // over the 1 MiB body limit
	cases := []struct {
		status  int
		code    connect.Code
		message string // in every protocol's message (gRPC-Web: the mapper's text)
		call    func(ctx context.Context, opts []connect.ClientOption) error
	}{
		{401, connect.CodeUnauthenticated, "", func(ctx context.Context, opts []connect.ClientOption) error {
			_, err := paymentsv1connect.NewPaymentServiceClient(hc, e.base, opts...).GetPayment(ctx, &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: quickProduct}})
			return err
		}},
		{403, connect.CodePermissionDenied, "", func(ctx context.Context, opts []connect.ClientOption) error {
			_, err := paymentsv1connect.NewPaymentServiceClient(hc, e.base, append(opts, withBearer(e.token(t, "another-service")))...).
				GetPayment(ctx, &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: quickProduct}})
			return err
		}},
		{404, connect.CodeUnimplemented, "", func(ctx context.Context, opts []connect.ClientOption) error {
			_, err := inventoryv1connect.NewInventoryServiceClient(hc, e.base, opts...).ReserveStock(ctx, &inventoryv1.ReserveStockRequest{})
			return err
		}},
		{413, connect.CodeResourceExhausted, "", func(ctx context.Context, opts []connect.ClientOption) error {
			_, err := inventoryv1connect.NewInventoryServiceClient(hc, e.base, opts...).GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: big})
			return err
		}},
		{429, connect.CodeResourceExhausted, "", nil}, // below: the bucket must be empty first
		{503, connect.CodeUnavailable, "", func(ctx context.Context, opts []connect.ClientOption) error {
			_, err := paymentsv1connect.NewPaymentServiceClient(hc, e.base, append(opts, withBearer(e.token(t, "mercato")))...).
				GetPayment(ctx, &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: quickProduct}})
			return err
		}},
		{504, connect.CodeDeadlineExceeded, "", func(ctx context.Context, opts []connect.ClientOption) error {
			_, err := inventoryv1connect.NewInventoryServiceClient(hc, e.base, opts...).GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: heldProduct})
			return err
		}},
	}
	signIn := func(ctx context.Context, opts []connect.ClientOption) error {
		_, err := customersv1connect.NewCustomerServiceClient(hc, e.base, opts...).SignIn(ctx, &customersv1.SignInRequest{Email: "a@example.com", Password: "wrong-password"})
		return err
	}
	for _, tc := range cases {
		for _, p := range protocols {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			var err error
			if tc.call != nil {
				err = tc.call(ctx, p.opts)
			} else { // sign in until the edge's token bucket for SignIn is empty
				for range 200 {
					if err = signIn(ctx, p.opts); connect.CodeOf(err) != connect.CodeUnauthenticated {
						break
					}
				}
			}
			cancel()
			var ce *connect.Error
			switch {
			case !errors.As(err, &ce):
				t.Errorf("%d over %s: %v, want a Connect error", tc.status, p.name, err)
			case ce.Code() != tc.code || ce.Message() == "":
				t.Errorf("%d over %s: %v (code %v), want %v with a message", tc.status, p.name, err, ce.Code(), tc.code)
			default:
				t.Logf("%d over %s: %v", tc.status, p.name, err)
			}
		}
	}
	// What a browser's Connect client reads: the status, a JSON body, and the CORS headers that
	// let it read them (www-authenticate tells a missing token from an expired one).
	code, body, h := call(t, hc, http.MethodPost, e.base+paymentsv1connect.PaymentServiceGetPaymentProcedure, `{}`,
		map[string]string{"Origin": "http://127.0.0.1:5173", "Connect-Protocol-Version": "1"})
	var wire struct{ Code, Message string }
	if err := json.Unmarshal([]byte(body), &wire); err != nil || code != 401 || wire.Code != "unauthenticated" || wire.Message != "Jwt is missing" {
		t.Errorf("401 to a browser: %d %s (%v), want {unauthenticated, Jwt is missing}", code, body, err)
	}
	if h.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:5173" || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "www-authenticate") {
		t.Errorf("401 to a browser: CORS headers %v", h)
	}
}

// TestBodyOverLimitIs413BeforeRetries: a 100 MB body on a retried route (GetProduct) is
// refused with 413 while it is still being sent: no upstream attempt, no per-try timeout.
func TestBodyOverLimitIs413BeforeRetries(t *testing.T) {
	e := startLimitedEdge(t)
	hc := e.httpClient(t)
	for _, declared := range []bool{true, false} {
		body := io.LimitReader(zeros{}, 100<<20)
		req, err := http.NewRequest(http.MethodPost, e.base+inventoryv1connect.InventoryServiceGetProductProcedure, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if declared {
			req.ContentLength = 100 << 20
		} else {
			req.ContentLength = -1 // streamed: the edge must count
		}
		start := time.Now()
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("100 MB body (content-length declared %v): %v", declared, err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Logf("100 MB body (content-length declared %v): %d %s in %s", declared, res.StatusCode, bytes.TrimSpace(out), time.Since(start).Round(time.Millisecond))
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), `"code":"resource_exhausted"`) {
			t.Errorf("100 MB body: %d %s, want 413 as a Connect resource_exhausted", res.StatusCode, out)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestSignInBurstMeetsRateLimit: 300 concurrent sign-ins from one client reach 429 (the
// route's token bucket) before the burst ends; the service sees only what the bucket let by.
func TestSignInBurstMeetsRateLimit(t *testing.T) {
	e := startLimitedEdge(t)
	hc := e.httpClient(t)
	hc.Transport.(*http.Transport).MaxConnsPerHost = 4 // a client holds few connections; the test edge's cap is 24
	forged := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(claims.ClientAddressHeader, "203.0.113.66") // the edge must replace it
			return next(ctx, req)
		}
	}))
	c := customersv1connect.NewCustomerServiceClient(hc, e.base, connect.WithProtoJSON(), forged)
	// One connection first, as a client that has been talking to the edge has (a cold client
	// racing 300 dials would meet the test edge's connection cap of 24 instead).
	if code, _, _ := call(t, hc, http.MethodPost, e.base+inventoryv1connect.InventoryServiceGetProductProcedure, `{"productId":"`+quickProduct+`"}`, nil); code != http.StatusOK {
		t.Fatalf("warm-up call: %d", code)
	}
	var mu sync.Mutex
	codes := map[connect.Code]int{}
	var firstLimited, n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 300 {
		wg.Go(func() {
			_, err := c.SignIn(t.Context(), &customersv1.SignInRequest{Email: "victim@example.com", Password: "wrong-password"})
			i := n.Add(1)
			if connect.CodeOf(err) == connect.CodeResourceExhausted {
				firstLimited.CompareAndSwap(0, i)
			}
			mu.Lock()
			codes[connect.CodeOf(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("300 concurrent wrong sign-ins in %s: %v; the first 429 was answer #%d", time.Since(start).Round(time.Millisecond), codes, firstLimited.Load())
	if codes[connect.CodeResourceExhausted] == 0 || firstLimited.Load() == 300 {
		t.Errorf("the burst never met the rate limit before it ended: %v", codes)
	}
	if codes[connect.CodeUnauthenticated] > 40 {
		t.Errorf("%d sign-ins reached the service; the bucket holds 20 and refills 5/s", codes[connect.CodeUnauthenticated])
	}
	var seen []string
	e.customers.clients.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
	if !slices.Equal(seen, []string{"127.0.0.1 true"}) {
		t.Errorf("client addresses the service saw: %q, want only the edge's view of the client (127.0.0.1), never the forged one", seen)
	}
}

// TestConnectionCap: idle connections beyond listener.connections.max_connections are closed
// at once; the ones within it still serve.
func TestConnectionCap(t *testing.T) {
	e := startLimitedEdge(t)
	var held []*tls.Conn
	refused := 0
	for range edgeMaxConnections + 8 {
		c, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.ca, NextProtos: []string{"http/1.1"}})
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, rerr := c.Read(make([]byte, 1)); rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) {
				err = rerr // closed by the edge
			}
			_ = c.SetReadDeadline(time.Time{})
		}
		if err != nil {
			refused++
			continue
		}
		held = append(held, c)
	}
	t.Logf("%d idle connections held, %d refused (cap %d); edge_connections_refused_total %s", len(held), refused, edgeMaxConnections, e.metric(t, "edge_connections_refused_total"))
	if got := e.metric(t, "edge_connections_refused_total"); got != fmt.Sprint(refused) {
		t.Errorf("edge_connections_refused_total %q, want %d", got, refused)
	}
	if len(held) > edgeMaxConnections || refused < 8 {
		t.Errorf("%d held, %d refused: want at most %d held", len(held), refused, edgeMaxConnections)
	}
	if len(held) > 0 {
		req := "POST " + inventoryv1connect.InventoryServiceGetProductProcedure + " HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nContent-Length: 52\r\n\r\n" +
			`{"productId":"` + quickProduct + `"}`
		if _, err := held[0].Write([]byte(req)); err != nil {
			t.Fatalf("a held connection: %v", err)
		}
		line := make([]byte, 12)
		if _, err := io.ReadFull(held[0], line); err != nil || string(line) != "HTTP/1.1 200" {
			t.Errorf("a call on a held connection: %q %v", line, err)
		}
	}
	for _, c := range held {
		_ = c.Close()
	}
	hc := e.httpClient(t)
	eventually(t, 5*time.Second, "a call once the connections are closed", func() bool {
		code, _, _ := call(t, hc, http.MethodPost, e.base+inventoryv1connect.InventoryServiceGetProductProcedure, `{"productId":"`+quickProduct+`"}`, nil)
		return code == http.StatusOK
	})
}

// TestRapidResetFlood: four connections open and at once reset streams as fast as they can
// (CVE-2023-44487); each gets GOAWAY and is closed, while a normal client's calls on its own
// connection all succeed.
func TestRapidResetFlood(t *testing.T) {
	e := startLimitedEdge(t)
	normal := inventoryv1connect.NewInventoryServiceClient(e.httpClient(t), e.base, connect.WithGRPC())
	callOnce := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := normal.GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: quickProduct})
		return time.Since(start), err
	}
	var unloaded []time.Duration
	for range 50 {
		d, err := callOnce()
		if err != nil {
			t.Fatal(err)
		}
		unloaded = append(unloaded, d)
	}
	results := make(chan floodResult, 4)
	stop := make(chan struct{})
	for range 4 {
		go func() { results <- flood(t, e, stop) }()
	}
	var loaded []time.Duration
	failed := 0
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		d, err := callOnce()
		if err != nil {
			failed++
			t.Errorf("a normal call during the flood: %v", err)
		}
		loaded = append(loaded, d)
	}
	close(stop)
	for range 4 {
		r := <-results
		t.Logf("flooding connection: %d streams written, GOAWAY %v (last stream the edge took: %d), closed %v", r.streams, r.goAway, r.lastStream, r.closed)
		if !r.goAway || !r.closed {
			t.Errorf("a flooding connection was not sent GOAWAY and closed: %+v", r)
		}
		if taken := (r.lastStream + 1) / 2; taken > 2000 {
			t.Errorf("the edge took %d streams of a flooding connection; the bound is 500 and a read buffer's worth", taken)
		}
	}
	if got := e.metric(t, "edge_http2_rapid_reset_total"); got != "4" {
		t.Errorf("edge_http2_rapid_reset_total %q, want 4", got)
	}
	p50u, p50l, p99l, maxl := percentile(unloaded, 50), percentile(loaded, 50), percentile(loaded, 99), slices.Max(loaded)
	t.Logf("normal client: %d calls during the flood, %d failed; p50 %s (unloaded %s, ratio %.2f), p99 %s, max %s",
		len(loaded), failed, p50l, p50u, float64(p50l)/float64(p50u), p99l, maxl)
	if maxl > 5*time.Second {
		t.Errorf("a normal call took %s during the flood (each should take well under 1 s)", maxl)
	}
}

type floodResult struct {
	streams        int    // written by the client, most of them never read by the edge
	lastStream     uint32 // GOAWAY's last stream ID: what the edge took
	goAway, closed bool
}

// flood opens one HTTP/2 connection and opens and resets streams until the edge sends GOAWAY
// and closes it, or stop.
func flood(t *testing.T, e *limitedEdge, stop <-chan struct{}) floodResult {
	conn, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.ca, NextProtos: []string{"h2"}})
	if err != nil {
		t.Errorf("flood dial: %v", err)
		return floodResult{}
	}
	defer conn.Close()
	var res floodResult
	var wmu sync.Mutex
	fr := http2.NewFramer(conn, conn)
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Errorf("flood preface: %v", err)
		return res
	}
	_ = fr.WriteSettings()
	var goAway atomic.Bool
	var lastStream atomic.Uint32
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					_ = fr.WriteSettingsAck()
					wmu.Unlock()
				}
			case *http2.GoAwayFrame:
				lastStream.Store(f.LastStreamID)
				goAway.Store(true)
			}
		}
	}()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for id := uint32(1); ; id += 2 {
		select {
		case <-stop:
			res.goAway, res.lastStream = goAway.Load(), lastStream.Load()
			return res
		case <-readDone:
			res.goAway, res.closed, res.lastStream = goAway.Load(), true, lastStream.Load()
			return res
		default:
		}
		if goAway.Load() { // keep the connection open until the edge closes it
			time.Sleep(10 * time.Millisecond)
			continue
		}
		hbuf.Reset()
		for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", e.addr},
			{":path", inventoryv1connect.InventoryServiceGetProductProcedure}, {"content-type", "application/grpc"}} {
			_ = enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		wmu.Lock()
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true})
		if err == nil {
			err = fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		wmu.Unlock()
		if err != nil {
			<-readDone
			res.goAway, res.closed, res.lastStream = goAway.Load(), true, lastStream.Load()
			return res
		}
		res.streams++
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
