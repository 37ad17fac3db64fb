package devedge_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"mercato.dev/edge/devcert"
	"mercato.dev/edge/internal/accesslog"
	"mercato.dev/edge/internal/devedge"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
)

// harness is a control plane (go-control-plane's ADS server and snapshot cache, mTLS as
// spiffe://mercato.local/xds), a customers upstream serving a JWKS, and a dev edge subscribed to
// the control plane, all in this test process with real SVIDs.
type harness struct {
	t     testing.TB
	env   *kittest.Env
	cache cachev3.SnapshotCache
	ads   string
	files devcert.Files
	edge  *devedge.Edge
	logs  *syncBuffer

	version     int
	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every ACK or NACK
	acked       map[string]string
	nacks       map[string]string // type → error of the last NACK
	customers   string            // JWKS upstream address
	jwksFetches atomic.Int64
	signer      jose.Signer
	signKey     *ecdsa.PrivateKey
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, changed: make(chan struct{}), acked: map[string]string{}, nacks: map[string]string{}, logs: &syncBuffer{}}
	h.env = kittest.Start(t, []spiffeid.ID{identity.Edge, identity.XDS, identity.Service("inventory"), identity.Service("customers"), identity.Service("orders")})
	var err error
	if h.files, err = devcert.Ensure(t.TempDir(), time.Now()); err != nil {
		t.Fatal(err)
	}
	h.startADS()
	h.startCustomers()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("edge logs:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) startADS() {
	h.cache = cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	srv := serverv3.NewServer(ctx, h.cache, serverv3.CallbackFuncs{StreamRequestFunc: h.onRequest})
	creds := credentials.NewTLS(identity.ServerTLS(h.env.Source(h.t, identity.XDS), identity.TrustDomain))
	gs := grpc.NewServer(grpc.Creds(creds))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	go func() { _ = gs.Serve(ln) }()
	h.t.Cleanup(gs.Stop)
	h.ads = ln.Addr().String()
}

// onRequest records the edge's ACKs and NACKs.
func (h *harness) onRequest(_ int64, req *discoveryv3.DiscoveryRequest) error {
	if req.GetResponseNonce() == "" {
		return nil // a subscription, not an answer
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetErrorDetail() != nil {
		h.nacks[req.GetTypeUrl()] = req.GetErrorDetail().GetMessage()
	} else {
		h.acked[req.GetTypeUrl()] = req.GetVersionInfo()
	}
	close(h.changed)
	h.changed = make(chan struct{})
	return nil
}

// waitFor waits until cond (called under the lock) holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		ok, changed := cond(), h.changed
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; acked %v, nacks %v", what, h.acked, h.nacks)
		}
	}
}

// push sets a new snapshot and returns its version.
func (h *harness) push(c config) string {
	h.t.Helper()
	if c.certFile == "" {
		c.certFile, c.keyFile = h.files.Cert, h.files.Key
	}
	l, r, cl, e := c.resources()
	return h.pushResources(l, r, cl, e)
}

func (h *harness) pushResources(listeners, routes, clusters, endpoints []types.Resource) string {
	h.t.Helper()
	h.version++
	version := "v" + strconv.Itoa(h.version)
	snap, err := cachev3.NewSnapshot(version, map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType: listeners,
		resourcev3.RouteType:    routes,
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: endpoints,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := snap.Consistent(); err != nil {
		h.t.Fatalf("inconsistent snapshot: %v", err)
	}
	if err := h.cache.SetSnapshot(context.Background(), "edge", snap); err != nil {
		h.t.Fatal(err)
	}
	return version
}

var allTypes = []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType}

// apply pushes c and waits until the edge ACKed it for every resource type.
func (h *harness) apply(c config) {
	h.t.Helper()
	v := h.push(c)
	h.waitFor("ACK of "+v, func() bool {
		for _, typ := range allTypes {
			if h.acked[typ] != v {
				return false
			}
		}
		return true
	})
}

// start runs the edge against the control plane; c is its first configuration.
func (h *harness) start(c config) {
	h.t.Helper()
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := devedge.New(devedge.Options{
		Source: h.env.Source(h.t, identity.Edge), XDSAddr: h.ads, AdminAddr: "127.0.0.1:0",
		Logger: logger, AccessLog: accesslog.New(h.logs, "edge"), DrainTimeout: 2 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		h.t.Fatal(err)
	}
	h.edge = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("edge stopped with %v", err)
		}
	})
	h.apply(c)
	h.waitReady()
}

func (h *harness) waitReady() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + h.edge.AdminAddr() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("edge not ready: %v %v", res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// base is the edge's public URL.
func (h *harness) base() string { return "https://" + h.edge.ListenerAddr("public") }

// client is an HTTPS client trusting the dev CA: HTTP/2, or HTTP/1.1 only.
func (h *harness) client(http2 bool) *http.Client {
	h.t.Helper()
	return clientTrusting(h.t, h.files.CA, http2)
}

func clientTrusting(t testing.TB, caFile string, http2 bool) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}, ForceAttemptHTTP2: http2, MaxIdleConnsPerHost: 100}
	if !http2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// serve starts a kit server as the named service (a SPIFFE ID the env issues).
func (h *harness) serve(name string, register func(*server.Server)) string {
	h.t.Helper()
	return h.env.Serve(h.t, name, register).Addr()
}

// startCustomers serves the JWKS of the test's signing key as the customers service does.
func (h *harness) startCustomers() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	h.signKey = key
	h.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		h.t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		h.t.Fatal(err)
	}
	const path = "/.well-known/jwks.json"
	h.customers = h.serve("customers", func(s *server.Server) {
		s.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h.jwksFetches.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jwks)
		}), authz.Rules{path: authz.Allow(identity.Edge)})
	})
}

// token signs claims with the JWKS key (signer nil) or another signer.
func (h *harness) token(signer jose.Signer, claims any) string {
	h.t.Helper()
	if signer == nil {
		signer = h.signer
	}
	tok, err := josejwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// userClaims are the claims the customers service issues.
type userClaims struct {
	josejwt.Claims
	Roles []string `json:"roles"`
}

func validClaims(sub string) userClaims {
	now := time.Now()
	return userClaims{Claims: josejwt.Claims{
		Issuer: "mercato.customers", Audience: josejwt.Audience{"mercato"}, Subject: sub,
		IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(15 * time.Minute)),
	}, Roles: []string{"customer"}}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ = fmt.Sprintf
