package e2e

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
)

// TestCORS: preflights from the origins routes.yaml allows get the policy's headers, on
// anonymous and JWT routes alike (no token on a preflight); other origins get no
// Access-Control-Allow-Origin; actual responses to an allowed origin, the edge's own 401
// included, carry the CORS response headers.
func TestCORS(t *testing.T) {
	p := the(t)
	hc := p.httpClient(t)
	do := func(method, path, origin string, headers map[string]string, body string) *http.Response {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, p.base+path, strings.NewReader(body))
		req.Header.Set("Origin", origin)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		res.Body.Close()
		return res
	}
	requested := []string{"authorization", "content-type", "connect-protocol-version"}
	preflight := func(path, origin string) *http.Response {
		return do(http.MethodOptions, path, origin, map[string]string{
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": strings.Join(requested, ", "),
		}, "")
	}
	maxAge, err := p.routes.corsMaxAge()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.routes.CORS.AllowOrigins) == 0 {
		t.Fatal("routes.yaml allows no origin")
	}
	paths := []string{inventoryv1connect.InventoryServiceListProductsProcedure, ordersv1connect.OrderServiceCreateOrderProcedure}
	for _, origin := range p.routes.CORS.AllowOrigins {
		for _, path := range paths {
			res := preflight(path, origin)
			h := res.Header
			if res.StatusCode/100 != 2 || h.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("preflight %s from %s: %s, Access-Control-Allow-Origin %q", path, origin, res.Status, h.Get("Access-Control-Allow-Origin"))
				continue
			}
			if methods := lowerList(h.Values("Access-Control-Allow-Methods")); !slices.Contains(methods, "post") {
				t.Errorf("preflight %s: Access-Control-Allow-Methods %v lacks POST", path, methods)
			}
			allowed := lowerList(h.Values("Access-Control-Allow-Headers"))
			for _, want := range requested {
				if !slices.Contains(allowed, want) {
					t.Errorf("preflight %s: Access-Control-Allow-Headers %v lacks %s", path, allowed, want)
				}
			}
			if got := h.Get("Access-Control-Max-Age"); got != strconv.Itoa(int(maxAge.Seconds())) {
				t.Errorf("preflight %s: Access-Control-Max-Age %q, want %d", path, got, int(maxAge.Seconds()))
			}
			if h.Get("Access-Control-Allow-Credentials") == "true" {
				t.Errorf("preflight %s: credentials allowed, routes.yaml says no", path)
			}
		}
	}
	var statuses []string
	for _, origin := range []string{"https://evil.example", "http://localhost:5174", "http://localhost:5173.evil.example", "null"} {
		for _, path := range paths {
			res := preflight(path, origin)
			statuses = append(statuses, res.Status)
			for k := range res.Header {
				if strings.HasPrefix(strings.ToLower(k), "access-control-") {
					t.Errorf("preflight %s from %s: %s: %q (no CORS header expected)", path, origin, k, res.Header.Get(k))
				}
			}
		}
	}
	t.Logf("preflights from disallowed origins answered %v without CORS headers", slices.Compact(statuses))

	// A preflight for a method the edge does not route: no route, no CORS.
	allowed := p.routes.CORS.AllowOrigins[0]
	if res := preflight(inventoryv1connect.InventoryServiceReserveStockProcedure, allowed); res.StatusCode != http.StatusNotFound || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight of ReserveStock: %s, Access-Control-Allow-Origin %q; want 404 without it", res.Status, res.Header.Get("Access-Control-Allow-Origin"))
	}

	// Actual requests.
	json := map[string]string{"Content-Type": "application/json"}
	res := do(http.MethodPost, inventoryv1connect.InventoryServiceListProductsProcedure, allowed, json, "{}")
	expose := lowerList(res.Header.Values("Access-Control-Expose-Headers"))
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Errorf("ListProducts from %s: %s, Access-Control-Allow-Origin %q", allowed, res.Status, res.Header.Get("Access-Control-Allow-Origin"))
	}
	for _, want := range p.routes.CORS.ExposeHeaders {
		if !slices.Contains(expose, strings.ToLower(want)) {
			t.Errorf("ListProducts from %s: Access-Control-Expose-Headers %v lacks %s", allowed, expose, want)
		}
	}
	if res := do(http.MethodPost, ordersv1connect.OrderServiceListOrdersProcedure, allowed, json, "{}"); res.StatusCode != 401 || res.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Errorf("ListOrders without a token from %s: %s, Access-Control-Allow-Origin %q; want 401 readable by the page", allowed, res.Status, res.Header.Get("Access-Control-Allow-Origin"))
	}
	if res := do(http.MethodPost, inventoryv1connect.InventoryServiceListProductsProcedure, "https://evil.example", json, "{}"); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("ListProducts from another origin: %s, Access-Control-Allow-Origin %q; want 200 without it (the browser hides it)", res.Status, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// lowerList splits comma-separated header values, trimmed and lower-cased.
func lowerList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}
