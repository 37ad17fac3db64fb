package storefront

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func site(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html": `<meta name="mercato-edge" content="__MERCATO_EDGE__"><script type="module" src="main.js"></script>`,
		"main.js":    `console.log("storefront")`,
		"main.js.gz": "\x1f\x8bgzipped",
		"sub/x.txt":  "x",
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// The page names the edge, the CSP lets scripts reach that edge only, files are served, and
// directories are not listed.
func TestHandler(t *testing.T) {
	h, err := Handler(site(t), "https://shop.example:8443/")
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, h, http.MethodGet, "/")
	if res.StatusCode != 200 || !strings.Contains(body, `content="https://shop.example:8443"`) {
		t.Fatalf("GET /: %d %q", res.StatusCode, body)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src https://shop.example:8443", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", res.Header.Get("X-Content-Type-Options"))
	}
	if res, body := get(t, h, http.MethodGet, "/main.js"); res.StatusCode != 200 || !strings.Contains(body, "storefront") || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
		t.Errorf("GET /main.js: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/main.js", nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	h.ServeHTTP(rec, req)
	if res := rec.Result(); res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || rec.Body.String() != "\x1f\x8bgzipped" {
		t.Errorf("GET /main.js accepting gzip: %q %q %q", res.Header.Get("Content-Encoding"), res.Header.Get("Content-Type"), rec.Body.String())
	}
	for path, want := range map[string]int{"/sub/": 404, "/../../etc/passwd": 404, "/healthz": 200, "/missing.js": 404} {
		if res, _ := get(t, h, http.MethodGet, path); res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	if res, _ := get(t, h, http.MethodPost, "/"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", res.StatusCode)
	}
}

// Only an origin is accepted as the edge: anything that could carry markup or a path is refused.
func TestHandlerRefusesBadEdge(t *testing.T) {
	dir := site(t)
	for _, edge := range []string{"", "localhost:8443", "ftp://x", "https://x/path", `https://x"><script>`, "https://u:p@x", "https://x?q=1"} {
		if _, err := Handler(dir, edge); err == nil {
			t.Errorf("edge %q accepted", edge)
		}
	}
	if _, err := Handler(t.TempDir(), DefaultEdgeURL); err == nil || !strings.Contains(err.Error(), "npm run -w web build") {
		t.Errorf("no index.html: %v", err)
	}
}
