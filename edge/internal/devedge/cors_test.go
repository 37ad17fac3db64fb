package devedge_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	f := &fakeInventory{name: "inv"}
	h := startInventory(t, f)
	client := h.client(true)
	preflight := func(origin, path string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, h.base()+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,connect-protocol-version")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		return res
	}

	t.Run("preflight from an allowed origin", func(t *testing.T) {
		// UpdateProduct needs a JWT, which a preflight never carries: CORS answers it first.
		for _, path := range []string{inventory + "GetProduct", inventory + "UpdateProduct"} {
			res := preflight("https://shop.example", path)
			want := map[string]string{
				"Access-Control-Allow-Origin":      "https://shop.example",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods":     "GET, POST, OPTIONS",
				"Access-Control-Max-Age":           "600",
			}
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s: status %d", path, res.StatusCode)
			}
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s: %s = %q, want %q", path, k, got, v)
				}
			}
			if !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "connect-protocol-version") {
				t.Errorf("%s: allow-headers %q", path, res.Header.Get("Access-Control-Allow-Headers"))
			}
		}
		if n := f.calls.Load() + f.updates.Load(); n != 0 {
			t.Errorf("preflights reached the service %d times", n)
		}
	})

	t.Run("preflight from another origin", func(t *testing.T) {
		res := preflight("https://evil.example", inventory+"GetProduct")
		if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "" || res.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("got %d with %v, want 200 without CORS headers", res.StatusCode, res.Header)
		}
	})

	t.Run("preflight on a path without a route", func(t *testing.T) {
		if res := preflight("https://shop.example", inventory+"ReserveStock"); res.StatusCode != http.StatusNotFound {
			t.Errorf("got %d, want 404: preflights match the same routes", res.StatusCode)
		}
	})

	t.Run("actual request", func(t *testing.T) {
		for origin, want := range map[string]string{"https://shop.example": "https://shop.example", "https://evil.example": ""} {
			req, _ := http.NewRequest(http.MethodPost, h.base()+inventory+"GetProduct", strings.NewReader(`{"productId":"`+productID+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", origin)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, res)
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != want || res.StatusCode != 200 {
				t.Errorf("origin %s: %d allow-origin %q, want %q", origin, res.StatusCode, got, want)
			}
			if want != "" && !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "grpc-status") {
				t.Errorf("expose-headers %q", res.Header.Get("Access-Control-Expose-Headers"))
			}
		}
	})

	t.Run("local replies carry CORS headers too", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.base()+inventory+"UpdateProduct", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://shop.example")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		if res.StatusCode != 401 || res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Errorf("401 without CORS headers: the browser could not read it (%d %v)", res.StatusCode, res.Header)
		}
	})
}
