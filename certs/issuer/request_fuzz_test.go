package issuer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"mercato.dev/certs/issuer"
)

// FuzzFetchSecrets sends arbitrary SDS requests (any bytes that decode as a DiscoveryRequest)
// to a running issuer over its socket, as a registered caller: the issuer answers every one
// with secrets or a client error — never Internal or Unknown, never a crash — and the only
// secrets it ever returns are the caller's own ("default", its SPIFFE ID) and the bundle
// ("ROOTCA", the trust domain).
func FuzzFetchSecrets(f *testing.F) {
	entry := issuer.Entry{ID: spiffeid.RequireFromPath(td, "/fuzz"), Selectors: []string{uidSelector()}}
	client := fuzzIssuer(f, entry)
	for _, req := range []*discoveryv3.DiscoveryRequest{
		{TypeUrl: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", ResourceNames: []string{"default", "ROOTCA"}},
		{ResourceNames: []string{"spiffe://mercato.local/fuzz", "spiffe://mercato.local"}},
		{ResourceNames: []string{"spiffe://mercato.local/svc/orders", "../default", ""}},
		{TypeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster"},
		{VersionInfo: "1", ResponseNonce: "x", ResourceNames: []string{"default", "default"}},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	allowed := map[string]bool{"default": true, "ROOTCA": true, entry.ID.String(): true, td.IDString(): true}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &discoveryv3.DiscoveryRequest{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		resp, err := client.FetchSecrets(ctx, req)
		if code := status.Code(err); code == codes.Internal || code == codes.Unknown || code == codes.Unavailable {
			t.Fatalf("request %v answered %v", req, err)
		}
		for _, r := range resp.GetResources() {
			var s tlsv3.Secret
			if err := r.UnmarshalTo(&s); err != nil || !allowed[s.GetName()] {
				t.Fatalf("request %v returned secret %q (%v)", req, s.GetName(), err)
			}
		}
	})
}

// fuzzIssuer serves an in-memory issuer with entry until the fuzz target ends.
func fuzzIssuer(f *testing.F, entry issuer.Entry) secretv3.SecretDiscoveryServiceClient {
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	iss, err := issuer.New(issuer.Config{TrustDomain: td, SocketPath: sock, RootDir: dir, Entries: []issuer.Entry{entry}})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- iss.Serve(ctx) }()
	f.Cleanup(func() { cancel(); <-served })
	select {
	case <-iss.Ready():
	case err := <-served:
		f.Fatal(err)
	case <-time.After(waitLimit):
		f.Fatal("issuer not ready")
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close() })
	return secretv3.NewSecretDiscoveryServiceClient(conn)
}
