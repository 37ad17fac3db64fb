package devedge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
)

func postJSON(t *testing.T, c *http.Client, url, body string) (*http.Response, string, time.Duration) {
	t.Helper()
	start := time.Now()
	res, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(t, res)
	return res, b, time.Since(start)
}

func TestCircuitBreakerOverflowIsImmediate(t *testing.T) {
	t.Parallel()
	const n, m = 3, 5
	const slow = 600 * time.Millisecond
	f := &fakeInventory{name: "inv", delay: slow}
	h := newHarness(t)
	addr := h.serve("inventory", f.register)
	cfg := h.baseConfig(addr)
	cfg.clusters[0].limits = &clusterv3.CircuitBreakers_Thresholds{
		MaxConnections: wrapperspb.UInt32(8), MaxPendingRequests: wrapperspb.UInt32(64),
		MaxRequests: wrapperspb.UInt32(n), MaxRetries: wrapperspb.UInt32(3),
	}
	h.start(cfg)
	client := h.client(true)
	url := h.base() + inventory + "GetProduct"
	body := `{"productId":"` + productID + `"}`

	var wg sync.WaitGroup
	okc := make(chan int, n)
	for range n {
		wg.Go(func() {
			res, _, _ := postJSON(t, client, url, body)
			okc <- res.StatusCode
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.calls.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	type result struct {
		status     int
		overloaded string
		elapsed    time.Duration
	}
	over := make(chan result, m)
	var owg sync.WaitGroup
	for range m {
		owg.Go(func() {
			res, _, d := postJSON(t, client, url, body)
			over <- result{res.StatusCode, res.Header.Get("X-Envoy-Overloaded"), d}
		})
	}
	owg.Wait()
	close(over)
	for r := range over {
		t.Logf("overflow answered %d in %v", r.status, r.elapsed.Round(time.Microsecond))
		if r.status != http.StatusServiceUnavailable || r.overloaded != "true" {
			t.Errorf("extra call: %d x-envoy-overloaded=%q, want 503 true", r.status, r.overloaded)
		}
		if r.elapsed > slow/2 {
			t.Errorf("overflow took %v: it must not wait for the slow calls", r.elapsed)
		}
	}
	wg.Wait()
	close(okc)
	for s := range okc {
		if s != http.StatusOK {
			t.Errorf("a call within max_requests got %d", s)
		}
	}
	if got := f.calls.Load(); got != n {
		t.Errorf("upstream saw %d calls, want %d", got, n)
	}

	// gRPC callers see unavailable (14), Envoy's mapping of the overflow.
	for range n {
		wg.Go(func() { postJSON(t, client, url, body) })
	}
	for f.calls.Load() < 2*n && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(5 * time.Millisecond)
	}
	_, err := inventoryClient(client, h.base(), connect.WithGRPC()).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID})
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("gRPC overflow: %v", err)
	}
	wg.Wait()
}

func TestRetriesOnlyWhereTheRouteSaysSo(t *testing.T) {
	t.Parallel()
	failTwice := func(n int64) error {
		if n <= 2 {
			return connect.NewError(connect.CodeUnavailable, errors.New("try again"))
		}
		return nil
	}
	// Envoy's retry_on "unavailable" reads grpc-status from the response headers, i.e. only a
	// trailers-only response: connect-go answers gRPC-Web errors that way but gRPC errors with
	// real trailers, and Connect-protocol errors are plain HTTP statuses (503), which only
	// retriable-status-codes (or 5xx) retries. The dev edge does exactly what Envoy does.
	retryCases := []struct {
		name       string
		proto      []connect.ClientOption
		extraOn    bool // retry_on += retriable-status-codes with 503
		maxRetries uint32
		attempts   int64
	}{
		{"grpc-web unavailable is retried", []connect.ClientOption{connect.WithGRPCWeb()}, false, 3, 3},
		{"grpc unavailable in trailers is not", []connect.ClientOption{connect.WithGRPC()}, false, 3, 1},
		{"connect 503 is not", nil, false, 3, 1},
		{"connect 503 with retriable-status-codes is", nil, true, 3, 3},
		{"no retry beyond the max_retries breaker", []connect.ClientOption{connect.WithGRPCWeb()}, false, 0, 1},
	}
	for _, tc := range retryCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeInventory{name: "inv", fail: failTwice}
			h := newHarness(t)
			cfg := h.baseConfig(h.serve("inventory", f.register))
			cfg.clusters[0].limits = &clusterv3.CircuitBreakers_Thresholds{
				MaxConnections: wrapperspb.UInt32(8), MaxPendingRequests: wrapperspb.UInt32(64),
				MaxRequests: wrapperspb.UInt32(64), MaxRetries: wrapperspb.UInt32(tc.maxRetries),
			}
			if tc.extraOn {
				cfg.routes[0].retry.RetryOn += ",retriable-status-codes"
				cfg.routes[0].retry.RetriableStatusCodes = []uint32{503}
			}
			h.start(cfg)
			_, err := inventoryClient(h.client(true), h.base(), tc.proto...).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID})
			if got := f.calls.Load(); got != tc.attempts {
				t.Errorf("upstream attempts %d, want %d", got, tc.attempts)
			}
			if wantOK := tc.attempts == 3; (err == nil) != wantOK {
				t.Errorf("result %v", err)
			}
		})
	}
	t.Run("non-idempotent route is not retried", func(t *testing.T) {
		t.Parallel()
		f := &fakeInventory{name: "inv", fail: failTwice}
		h := startInventory(t, f)
		_, err := inventoryClient(h.client(true), h.base(), connect.WithGRPC()).AdjustStock(context.Background(),
			&inventoryv1.AdjustStockRequest{ProductId: productID, Delta: 1, Reason: "test"})
		if connect.CodeOf(err) != connect.CodeUnavailable {
			t.Errorf("got %v, want the upstream's unavailable", err)
		}
		if got := f.adjusts.Load(); got != 1 {
			t.Errorf("upstream attempts %d, want 1", got)
		}
	})
	t.Run("per-try timeout is retried", func(t *testing.T) {
		t.Parallel()
		f := &fakeInventory{name: "inv"}
		f.fail = func(n int64) error {
			if n == 1 {
				time.Sleep(1500 * time.Millisecond) // beyond per_try_timeout (1s)
			}
			return nil
		}
		h := startInventory(t, f)
		start := time.Now()
		if _, err := inventoryClient(h.client(true), h.base()).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID}); err != nil {
			t.Fatal(err)
		}
		if got, d := f.calls.Load(), time.Since(start); got != 2 || d > 1900*time.Millisecond {
			t.Errorf("%d attempts in %v, want 2 with the first abandoned at 1s", got, d)
		}
	})
	t.Run("connect failure is retried on another endpoint, any protocol", func(t *testing.T) {
		t.Parallel()
		f := &fakeInventory{name: "inv"}
		h := newHarness(t)
		live := h.serve("inventory", f.register)
		h.start(h.baseConfig(deadAddr(t), live))
		client := h.client(true)
		for range 4 {
			res, body, _ := postJSON(t, client, h.base()+inventory+"GetProduct", `{"productId":"`+productID+`"}`)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
		}
		if got := f.calls.Load(); got != 4 {
			t.Errorf("live endpoint served %d of 4", got)
		}
	})
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRouteTimeoutIsGatewayTimeout(t *testing.T) {
	t.Parallel()
	f := &fakeInventory{name: "inv", delay: 3 * time.Second}
	h := newHarness(t)
	addr := h.serve("inventory", f.register)
	cfg := h.baseConfig(addr)
	cfg.routes[3].timeout = 200 * time.Millisecond // AdjustStock
	h.start(cfg)
	res, body, d := postJSON(t, h.client(true), h.base()+inventory+"AdjustStock", `{"productId":"`+productID+`","delta":1,"reason":"x"}`)
	if res.StatusCode != http.StatusGatewayTimeout || body != "upstream request timeout" || d > time.Second {
		t.Errorf("got %d %q after %v, want 504 after ~200ms", res.StatusCode, body, d)
	}
	_, err := inventoryClient(h.client(true), h.base(), connect.WithGRPC()).AdjustStock(context.Background(),
		&inventoryv1.AdjustStockRequest{ProductId: productID, Delta: 1, Reason: "x"})
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "upstream request timeout") {
		t.Errorf("gRPC: %v, want Envoy's unavailable (504)", err)
	}
}

func TestOutlierEjection(t *testing.T) {
	t.Parallel()
	bad := &fakeInventory{name: "bad", fail: func(int64) error { return connect.NewError(connect.CodeInternal, errors.New("broken")) }}
	good := &fakeInventory{name: "good"}
	h := newHarness(t)
	badAddr, goodAddr := h.serve("inventory", bad.register), h.serve("inventory", good.register)
	cfg := h.baseConfig(badAddr, goodAddr)
	cfg.clusters[0].outlier = &clusterv3.OutlierDetection{
		Consecutive_5Xx: wrapperspb.UInt32(3), Interval: durationpb.New(time.Second),
		BaseEjectionTime: durationpb.New(30 * time.Second), MaxEjectionPercent: wrapperspb.UInt32(50),
	}
	h.start(cfg)
	client := h.client(true)
	var failures, lastFailure int
	for i := range 20 {
		res, _, _ := postJSON(t, client, h.base()+inventory+"AdjustStock", `{"productId":"`+productID+`","delta":1,"reason":"x"}`)
		if res.StatusCode != http.StatusOK {
			failures, lastFailure = failures+1, i
		}
	}
	if bad.adjusts.Load() != 3 || failures != 3 || lastFailure > 6 {
		t.Errorf("bad endpoint called %d times, %d failures, last at call %d: want ejected after its 3rd 5xx", bad.adjusts.Load(), failures, lastFailure)
	}
	if good.adjusts.Load() != 17 {
		t.Errorf("good endpoint served %d, want 17", good.adjusts.Load())
	}
	res, err := http.Get("http://" + h.edge.AdminAddr() + "/clusters")
	if err != nil {
		t.Fatal(err)
	}
	var clusters map[string]map[string]string
	_ = json.NewDecoder(res.Body).Decode(&clusters)
	res.Body.Close()
	if clusters["inventory"][badAddr] != "ejected" || clusters["inventory"][goodAddr] != "healthy" {
		t.Errorf("/clusters: %v", clusters["inventory"])
	}
}
