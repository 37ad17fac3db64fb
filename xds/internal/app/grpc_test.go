package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	_ "google.golang.org/grpc/xds" // the xds:/// resolver and its balancers

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"

	"mercato.dev/services/kit/registration"
	"mercato.dev/xds/internal/app"
)

const (
	quickProduct = "00000000-0000-4000-8000-000000000001" // answered at once
	heldProduct  = "00000000-0000-4000-8000-000000000002" // answered when the test releases it
)

// heldInventory answers GetProduct, holding calls for heldProduct until release closes.
type heldInventory struct {
	inventoryv1connect.UnimplementedInventoryServiceHandler
	inFlight atomic.Int32
	release  chan struct{}
}

func (h *heldInventory) GetProduct(ctx context.Context, req *inventoryv1.GetProductRequest) (*inventoryv1.GetProductResponse, error) {
	if req.GetProductId() == heldProduct {
		h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		select {
		case <-h.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &inventoryv1.GetProductResponse{Product: &inventoryv1.Product{ProductId: req.GetProductId(), Sku: "SKU-1"}}, nil
}

// serveInventory runs a kit server as inventory (GetProduct for orders) and keeps it
// registered with the control plane through the register package.
func serveInventory(t *testing.T, env *kittest.Env, p *plane) *heldInventory {
	t.Helper()
	h := &heldInventory{release: make(chan struct{})}
	srv := env.Serve(t, "inventory", func(s *server.Server) {
		path, handler := inventoryv1connect.NewInventoryServiceHandler(h, s.HandlerOptions()...)
		s.Handle(path, handler, authz.Rules{inventoryv1connect.InventoryServiceGetProductProcedure: authz.Allow(ordersID, identity.Edge)})
	})
	conn := env.Dial(t, inventoryID, p.RegistrationAddr(), identity.XDS)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	port := srv.Addr()[strings.LastIndexByte(srv.Addr(), ':')+1:]
	go func() { defer close(done); _ = registration.Run(ctx, conn, "inventory", "127.0.0.1", port, p.logger) }()
	t.Cleanup(func() { close(h.release); cancel(); <-done })
	return h
}

// writeSVIDFiles writes src's SVID and its trust domain's bundle (as a SPIFFE bundle map)
// where the xDS bootstrap expects them.
func writeSVIDFiles(t *testing.T, src *workloadapi.X509Source) {
	t.Helper()
	dir := os.Getenv(dirEnv)
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	certs, key, err := svid.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := src.GetX509BundleForTrustDomain(svid.ID.TrustDomain())
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := spiffebundle.FromX509Bundle(bundle).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	bundles := fmt.Sprintf(`{"trust_domains": {%q: %s}}`, bundle.TrustDomain().Name(), jwks)
	for name, data := range map[string][]byte{"svid.pem": certs, "key.pem": key, "bundles.json": []byte(bundles)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGRPCXDSClientCircuitBreaker resolves xds:///inventory.mercato.local with gRPC-Go's own
// xDS client (bootstrapped at the control plane over mTLS, node grpc-test), calls the
// registered inventory endpoint with orders' SVID, and checks the cluster's max_requests: with
// N calls in flight, call N+1 fails with Unavailable "max requests N exceeded".
func TestGRPCXDSClientCircuitBreaker(t *testing.T) {
	const maxRequests = 3
	env := kittest.Start(t, testIDs)
	ordersSrc := env.Source(t, ordersID)
	writeSVIDFiles(t, ordersSrc)
	routes := repoRoutes(t, "spiffe_id: spiffe://mercato.local/svc/inventory",
		"spiffe_id: spiffe://mercato.local/svc/inventory\n    circuit_breaker: {max_requests: "+strconv.Itoa(maxRequests)+"}")
	p := startPlane(t, env, routes, func(c *app.Config) { c.ADSAddr = os.Getenv(adsAddrEnv) })
	inv := serveInventory(t, env, p)

	creds := grpccredentials.MTLSClientCredentials(ordersSrc, ordersSrc, tlsconfig.AuthorizeID(inventoryID))
	cc, err := grpc.NewClient("xds:///inventory.mercato.local", grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	get := func(ctx context.Context, id string) error {
		return cc.Invoke(ctx, inventoryv1connect.InventoryServiceGetProductProcedure,
			&inventoryv1.GetProductRequest{ProductId: id}, &inventoryv1.GetProductResponse{})
	}
	var lastErr error
	took := eventually(t, 30*time.Second, "first call through xDS", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		lastErr = get(ctx, quickProduct)
		if lastErr != nil {
			t.Logf("not yet: %v", lastErr)
		}
		return lastErr == nil
	})
	t.Logf("first call through xds:///inventory.mercato.local succeeded after %s", took.Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	held := make(chan error, maxRequests)
	for range maxRequests {
		go func() { held <- get(ctx, heldProduct) }()
	}
	eventually(t, 10*time.Second, "calls in flight", func() bool { return inv.inFlight.Load() == maxRequests })
	err = get(ctx, quickProduct)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "max requests 3 exceeded") {
		t.Fatalf("call %d with %d in flight: %v; want Unavailable, max requests %d exceeded", maxRequests+1, maxRequests, err, maxRequests)
	}
	t.Logf("call %d refused by gRPC's circuit breaker: %v", maxRequests+1, err)
	for range maxRequests {
		inv.release <- struct{}{} // the held calls end…
	}
	for range maxRequests {
		if err := <-held; err != nil {
			t.Errorf("held call: %v", err)
		}
	}
	if err := get(ctx, quickProduct); err != nil { // …and calls flow again
		t.Errorf("call after the others finished: %v", err)
	}
}
