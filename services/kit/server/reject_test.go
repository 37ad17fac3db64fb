package server_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
)

// TestRejectionMatrix: every way of reaching a kit server without the right identity is refused
// at the handshake or with permission_denied, and no handler ever runs.
func TestRejectionMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bundle := f.env.Source(t, caller) // verifies the server in every case
	evil := kittest.Start(t, []spiffeid.ID{spiffeid.RequireFromString("spiffe://evil.local/svc/caller")},
		kittest.WithTrustDomain(spiffeid.RequireTrustDomainFromString("evil.local")))

	tlsClient := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	}
	tests := []struct {
		name      string
		client    func(t *testing.T) *http.Client
		procedure string
		want      connect.Code // 0: refused at the handshake
	}{
		{
			name: "no client certificate",
			client: func(t *testing.T) *http.Client {
				return tlsClient(tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(echoSvc)))
			},
			procedure: echoProcedure,
		},
		{
			name: "certificate from another trust domain",
			client: func(t *testing.T) *http.Client {
				own := evil.Source(t, spiffeid.RequireFromString("spiffe://evil.local/svc/caller"))
				return tlsClient(tlsconfig.MTLSClientConfig(own, bundle, tlsconfig.AuthorizeID(echoSvc)))
			},
			procedure: echoProcedure,
		},
		{
			name:      "valid SVID whose ID is not allowed for the method",
			client:    func(t *testing.T) *http.Client { return f.env.HTTPClient(t, other, echoSvc) },
			procedure: echoProcedure,
			want:      connect.CodePermissionDenied,
		},
		{
			name:      "valid SVID allowed elsewhere but not for this method",
			client:    func(t *testing.T) *http.Client { return f.env.HTTPClient(t, caller, echoSvc) },
			procedure: adminOnly,
			want:      connect.CodePermissionDenied,
		},
		{
			name: "expired SVID",
			client: func(t *testing.T) *http.Client {
				expired := mintSVID(t, f.env, caller, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
				return tlsClient(tlsconfig.MTLSClientConfig(expired, bundle, tlsconfig.AuthorizeID(echoSvc)))
			},
			procedure: echoProcedure,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.echo.calls.Load()
			_, err := call(t.Context(), f.clientOver(tt.client(t), tt.procedure), "x")
			switch {
			case err == nil:
				t.Fatal("call succeeded")
			case tt.want != 0:
				wantCode(t, err, tt.want)
			case !isHandshakeRefusal(err):
				t.Fatalf("want a refused handshake, got %v", err)
			}
			t.Logf("refused: %v", err)
			if n := f.echo.calls.Load() - before; n != 0 {
				t.Errorf("%d handler invocations", n)
			}
		})
	}
	t.Run("plaintext HTTP/1.1 request", func(t *testing.T) {
		got := rawExchange(t, f.srv.Addr(), "POST "+echoProcedure+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n\"x\"")
		assertNoHTTP(t, got)
	})
	t.Run("h2c prior knowledge", func(t *testing.T) {
		settings := "\x00\x00\x00\x04\x00\x00\x00\x00\x00" // empty SETTINGS frame
		got := rawExchange(t, f.srv.Addr(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"+settings)
		assertNoHTTP(t, got)
	})
	t.Run("h2c upgrade", func(t *testing.T) {
		got := rawExchange(t, f.srv.Addr(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
		assertNoHTTP(t, got)
	})
	if n := f.echo.calls.Load(); n != 0 {
		t.Errorf("%d handler invocations across the matrix", n)
	}
}

// TestResumedSessionIsVerifiedAgain: a client that held a valid SVID, made a connection, then
// lost access (its signing CA left the server's trust bundle) cannot come back by resuming the
// earlier TLS session: the server issues no tickets and refuses resumption, so the new handshake
// checks the certificate again and fails.
func TestResumedSessionIsVerifiedAgain(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	other := kittest.Start(t, []spiffeid.ID{caller}) // a second CA of the same trust domain
	serverSrc := env.Source(t, echoSvc)
	trusted := x509bundle.New(identity.TrustDomain)
	for _, b := range []*kittest.Env{env, other} {
		for _, ca := range b.Issuer.Bundle().X509Authorities() {
			trusted.AddX509Authority(ca)
		}
	}
	echo := &echoServer{}
	srv := env.Serve(t, "echo", echo.register, func(o *server.Options) {
		o.Source = splitSource{Source: serverSrc, bundle: trusted}
	})
	cfg := tlsconfig.MTLSClientConfig(other.Source(t, caller), serverSrc, tlsconfig.AuthorizeID(echoSvc))
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8) // the client tries to resume
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	c := (&fixture{srv: srv}).clientOver(&http.Client{Transport: tr, Timeout: 10 * time.Second}, echoProcedure)

	if _, err := call(t.Context(), c, "first"); err != nil {
		t.Fatalf("first call with a trusted SVID: %v", err)
	}
	for _, ca := range other.Issuer.Bundle().X509Authorities() {
		trusted.RemoveX509Authority(ca)
	}
	tr.CloseIdleConnections()
	_, err := call(t.Context(), c, "second")
	if n := echo.calls.Load(); n != 1 {
		t.Fatalf("%d handler invocations, want 1: the second call got through (%v)", n, err)
	}
	if err == nil || !isHandshakeRefusal(err) {
		t.Fatalf("second connection after losing access: %v, want a refused handshake", err)
	}
	if n := echo.calls.Load(); n != 1 {
		t.Errorf("%d handler invocations, want 1 (the first call only)", n)
	}
}

// splitSource serves its own SVID but verifies peers against a bundle the test controls.
type splitSource struct {
	identity.Source
	bundle *x509bundle.Bundle
}

func (s splitSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return s.bundle.GetX509BundleForTrustDomain(td)
}

// mintSVID has the issuer sign an SVID with the given validity (for example, already expired).
func mintSVID(t *testing.T, env *kittest.Env, id spiffeid.ID, notBefore, notAfter time.Time) *x509svid.SVID {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := env.Issuer.Sign(id, key.Public(), notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: key}
}

// rawExchange writes payload to a plain TCP connection and returns whatever comes back before
// the server closes it (or 3 seconds pass).
func rawExchange(t *testing.T, addr, payload string) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, payload); err != nil {
		return nil // refused while writing: no response at all
	}
	got, _ := io.ReadAll(bufio.NewReader(conn))
	return got
}

// assertNoHTTP fails if the bytes are any HTTP/1.x response or an HTTP/2 frame: the server may
// at most send a TLS alert record (content type 21) before closing.
func assertNoHTTP(t *testing.T, got []byte) {
	t.Helper()
	t.Logf("server sent %d bytes: %q", len(got), got)
	if len(got) > 0 && got[0] != 0x15 {
		t.Fatalf("plaintext request got a non-TLS answer: %q", got)
	}
}
