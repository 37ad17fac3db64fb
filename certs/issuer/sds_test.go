package issuer_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"mercato.dev/certs/issuer"
)

const secretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// sdsStream is an Envoy-like SDS client stream.
type sdsStream struct {
	t      *testing.T
	stream secretv3.SecretDiscoveryService_StreamSecretsClient
}

func openSDS(t *testing.T, sock string) *sdsStream {
	t.Helper()
	client := secretv3.NewSecretDiscoveryServiceClient(dial(t, sock))
	stream, err := client.StreamSecrets(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return &sdsStream{t: t, stream: stream}
}

// request sends a request for names, acknowledging last (nil: first request).
func (s *sdsStream) request(last *discoveryv3.DiscoveryResponse, names ...string) {
	s.t.Helper()
	req := &discoveryv3.DiscoveryRequest{
		Node:          &corev3.Node{Id: "edge", Cluster: "edge"},
		TypeUrl:       secretType,
		ResourceNames: names,
		VersionInfo:   last.GetVersionInfo(),
		ResponseNonce: last.GetNonce(),
	}
	if err := s.stream.Send(req); err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

func (s *sdsStream) recv() (*discoveryv3.DiscoveryResponse, map[string]*tlsv3.Secret) {
	s.t.Helper()
	resp, err := s.stream.Recv()
	if err != nil {
		s.t.Fatalf("recv: %v", err)
	}
	if resp.TypeUrl != secretType || resp.Nonce == "" || resp.VersionInfo == "" {
		s.t.Fatalf("response type %q nonce %q version %q", resp.TypeUrl, resp.Nonce, resp.VersionInfo)
	}
	return resp, unpackSecrets(s.t, resp)
}

func unpackSecrets(t *testing.T, resp *discoveryv3.DiscoveryResponse) map[string]*tlsv3.Secret {
	t.Helper()
	secrets := make(map[string]*tlsv3.Secret)
	for _, r := range resp.Resources {
		var s tlsv3.Secret
		if err := r.UnmarshalTo(&s); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("secret %q breaks Envoy's rules: %v", s.Name, err)
		}
		secrets[s.Name] = &s
	}
	return secrets
}

// tlsCertificate checks the secret is a usable certificate for id and
// returns its leaf.
func tlsCertificate(t *testing.T, s *tlsv3.Secret, id spiffeid.ID) *x509.Certificate {
	t.Helper()
	tc := s.GetTlsCertificate()
	pair, err := tls.X509KeyPair(tc.GetCertificateChain().GetInlineBytes(), tc.GetPrivateKey().GetInlineBytes())
	if err != nil {
		t.Fatalf("secret %q: %v", s.Name, err)
	}
	leaf := pair.Leaf
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
		t.Fatalf("secret %q is for %v, want %s", s.Name, leaf.URIs, id)
	}
	return leaf
}

// trustedCAs returns the roots of a validation context secret.
func trustedCAs(t *testing.T, s *tlsv3.Secret) []*x509.Certificate {
	t.Helper()
	rest := s.GetValidationContext().GetTrustedCa().GetInlineBytes()
	var roots []*x509.Certificate
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, cert)
	}
	if len(roots) == 0 {
		t.Fatalf("secret %q has no trusted CA", s.Name)
	}
	return roots
}

func TestSDSPushesRenewedSVIDsAndRotatedRoots(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	entry := selfEntry(t, "/edge")
	cfg := testConfig(t, entry)
	cfg.SVIDTTL, cfg.CATTL = ttl, time.Hour
	iss := startIssuer(t, cfg)
	sds := openSDS(t, cfg.SocketPath)

	sds.request(nil, "default", "ROOTCA")
	resp, secrets := sds.recv()
	leaf := tlsCertificate(t, secrets["default"], entry.ID)
	if roots := trustedCAs(t, secrets["ROOTCA"]); len(roots) != 1 || !roots[0].Equal(iss.Bundle().X509Authorities()[0]) {
		t.Fatalf("ROOTCA holds %d roots, want the issuer's one", len(roots))
	}
	sds.request(resp, "default", "ROOTCA") // ACK

	start := time.Now()
	resp, secrets = sds.recv()
	renewed := tlsCertificate(t, secrets["default"], entry.ID)
	t.Logf("renewed SVID pushed after %s (TTL %s)", time.Since(start), ttl)
	if renewed.SerialNumber.Cmp(leaf.SerialNumber) == 0 || !time.Now().Before(leaf.NotAfter) {
		t.Fatalf("push after renewal: serial %s (was %s), old one expires %s; want a new SVID before the old one expires",
			renewed.SerialNumber, leaf.SerialNumber, leaf.NotAfter)
	}
	sds.request(resp, "default", "ROOTCA")

	if err := iss.RotateCA(); err != nil {
		t.Fatal(err)
	}
	for {
		resp, secrets = sds.recv()
		if roots := trustedCAs(t, secrets["ROOTCA"]); len(roots) == 2 {
			break
		}
		sds.request(resp, "default", "ROOTCA") // an SVID renewal came first
	}
}

func TestSDSFollowsNoncesAndNames(t *testing.T) {
	t.Parallel()
	entry := selfEntry(t, "/edge")
	cfg := testConfig(t, entry)
	startIssuer(t, cfg)
	sds := openSDS(t, cfg.SocketPath)

	sds.request(nil, "default")
	first, secrets := sds.recv()
	if len(secrets) != 1 || secrets["default"] == nil {
		t.Fatalf("secrets %v, want only default", slices.Collect(maps.Keys(secrets)))
	}
	sds.request(first, "default") // ACK: answered by nothing
	stale := &discoveryv3.DiscoveryResponse{VersionInfo: first.VersionInfo, Nonce: "stale"}
	sds.request(stale, "default", "ROOTCA", "spiffe://mercato.local/nobody") // stale nonce: ignored
	sds.request(first, "ROOTCA", entry.ID.String())                          // new names: answered

	second, secrets := sds.recv()
	if second.VersionInfo == first.VersionInfo || second.Nonce == first.Nonce {
		t.Errorf("second response reuses version %q / nonce %q", second.VersionInfo, second.Nonce)
	}
	if len(secrets) != 2 || secrets["ROOTCA"] == nil || secrets[entry.ID.String()] == nil {
		t.Fatalf("secrets %v, want ROOTCA and %s (the ACK and the stale request must go unanswered)",
			slices.Collect(maps.Keys(secrets)), entry.ID)
	}
	tlsCertificate(t, secrets[entry.ID.String()], entry.ID)

	sds.request(second, "spiffe://mercato.local/nobody")
	if _, err := sds.stream.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("asking for another workload's identity: %v, want InvalidArgument", err)
	}
}

func TestSDSFetchAndRefusals(t *testing.T) {
	t.Parallel()
	entry := selfEntry(t, "/edge")
	cfg := testConfig(t, entry)
	iss := startIssuer(t, cfg)
	client := secretv3.NewSecretDiscoveryServiceClient(dial(t, cfg.SocketPath))

	resp, err := client.FetchSecrets(testCtx(t), &discoveryv3.DiscoveryRequest{ResourceNames: []string{"default", "ROOTCA"}})
	if err != nil {
		t.Fatal(err)
	}
	secrets := unpackSecrets(t, resp)
	tlsCertificate(t, secrets["default"], entry.ID)
	trustedCAs(t, secrets["ROOTCA"])

	_, err = client.FetchSecrets(testCtx(t), &discoveryv3.DiscoveryRequest{TypeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("FetchSecrets of clusters: %v, want InvalidArgument", err)
	}
	delta, err := client.DeltaSecrets(testCtx(t))
	if err == nil {
		_, err = delta.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("DeltaSecrets: %v, want Unimplemented", err)
	}

	iss.SetEntries([]issuer.Entry{{ID: spiffeid.RequireFromPath(td, "/other"), Selectors: []string{"unix:path:bin/other"}}})
	_, err = client.FetchSecrets(testCtx(t), &discoveryv3.DiscoveryRequest{ResourceNames: []string{"default"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("FetchSecrets by an unregistered caller: %v, want PermissionDenied", err)
	}
	sds := openSDS(t, cfg.SocketPath)
	sds.request(nil, "default")
	if _, err := sds.stream.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Errorf("StreamSecrets by an unregistered caller: %v, want PermissionDenied", err)
	}
}
