package devedge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
)

// baseConfig is the contract's public edge for an inventory cluster at addrs: GetProduct and
// ListProducts anonymous with retries, UpdateProduct behind a JWT, AdjustStock anonymous without
// retries (a test stand-in for a non-idempotent method), CORS for https://shop.example.
func (h *harness) baseConfig(addrs ...string) config {
	return config{
		certFile: h.files.Cert,
		keyFile:  h.files.Key,
		routes: []testRoute{
			{path: inventory + "GetProduct", cluster: "inventory", timeout: 2 * time.Second, retry: idempotentRetry(2)},
			{path: inventory + "ListProducts", cluster: "inventory", timeout: 2 * time.Second, retry: idempotentRetry(2)},
			{path: inventory + "UpdateProduct", cluster: "inventory", timeout: 2 * time.Second, jwt: true},
			{path: inventory + "AdjustStock", cluster: "inventory", timeout: 2 * time.Second},
		},
		clusters: []testCluster{{name: "inventory", addrs: addrs}, {name: "customers", addrs: []string{h.customers}}},
		cors:     defaultCORS(),
	}
}

// startInventory serves f as the inventory service and starts the edge routing to it.
func startInventory(t *testing.T, f *fakeInventory) *harness {
	t.Helper()
	h := newHarness(t)
	addr := h.serve("inventory", f.register)
	h.start(h.baseConfig(addr))
	return h
}

func TestEveryProtocolReachesTheUpstream(t *testing.T) {
	t.Parallel()
	f := &fakeInventory{name: "inv-1"}
	h := startInventory(t, f)
	h2, h1 := h.client(true), h.client(false)

	t.Run("curl JSON POST", func(t *testing.T) {
		for name, c := range map[string]*http.Client{"h2": h2, "http/1.1": h1} {
			req, _ := http.NewRequest(http.MethodPost, h.base()+inventory+"GetProduct", strings.NewReader(`{"productId":"`+productID+`"}`))
			req.Header.Set("Content-Type", "application/json")
			res, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"inv-1"`) {
				t.Errorf("%s: %d %s", name, res.StatusCode, body)
			}
			if wantProto := map[string]int{"h2": 2, "http/1.1": 1}[name]; res.ProtoMajor != wantProto {
				t.Errorf("%s: answered over HTTP/%d", name, res.ProtoMajor)
			}
		}
	})
	clients := []struct {
		name   string
		client *http.Client
		opts   []connect.ClientOption
	}{
		{"connect proto h2", h2, nil},
		{"connect JSON http/1.1", h1, []connect.ClientOption{connect.WithProtoJSON()}},
		{"connect GET h2", h2, []connect.ClientOption{connect.WithHTTPGet()}},
		{"grpc h2", h2, []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web h2", h2, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc-web http/1.1", h1, []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			res, err := inventoryClient(c.client, h.base(), c.opts...).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.GetProduct(); got.GetName() != "inv-1" || got.GetProductId() != productID {
				t.Errorf("got %v", got)
			}
		})
	}
}

// TestUpstreamErrorsPassThrough checks that a service's own error (and its gRPC trailers) reach
// the client unchanged in every protocol.
func TestUpstreamErrorsPassThrough(t *testing.T) {
	t.Parallel()
	f := &fakeInventory{name: "inv", fail: func(int64) error {
		return connect.NewError(connect.CodeNotFound, errors.New("no such product"))
	}}
	h := startInventory(t, f)
	for name, opts := range map[string][]connect.ClientOption{
		"connect": nil, "grpc": {connect.WithGRPC()}, "grpc-web": {connect.WithGRPCWeb()},
	} {
		_, err := inventoryClient(h.client(true), h.base(), opts...).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID})
		if connect.CodeOf(err) != connect.CodeNotFound || !strings.Contains(err.Error(), "no such product") {
			t.Errorf("%s: got %v, want not_found from the service", name, err)
		}
	}
}

func TestNoRouteIsNotFound(t *testing.T) {
	t.Parallel()
	h := startInventory(t, &fakeInventory{name: "inv"})
	res, err := h.client(true).Post(h.base()+inventory+"ReserveStock", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("ReserveStock (no public route): %d, want 404", res.StatusCode)
	}
	for name, opts := range map[string][]connect.ClientOption{"connect": nil, "grpc": {connect.WithGRPC()}, "grpc-web": {connect.WithGRPCWeb()}} {
		_, err := inventoryClient(h.client(true), h.base(), opts...).ReserveStock(context.Background(), &inventoryv1.ReserveStockRequest{})
		if connect.CodeOf(err) != connect.CodeUnimplemented {
			t.Errorf("%s ReserveStock: %v, want unimplemented (404)", name, err)
		}
	}
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	h := startInventory(t, &fakeInventory{name: "inv"})
	if _, err := inventoryClient(h.client(true), h.base()).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/healthz":     "ok",
		"/readyz":      `"ready":true`,
		"/metrics":     `edge_request_duration_seconds_count{cluster="inventory",code="200"} 1`,
		"/clusters":    `"inventory":{`,
		"/config_dump": `"versions":{`,
	} {
		res, err := http.Get("http://" + h.edge.AdminAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d, want %q in\n%.400s", path, res.StatusCode, want, body)
		}
	}
}
