// Package storefront serves the built web storefront (web/dist: index.html, main.js, main.css)
// on its own origin. It writes the edge's URL into the page (the storefront calls the platform
// only there, and never takes the edge from the address bar) and sends a Content-Security-Policy
// that lets scripts reach that edge and nothing else. It is a static file server: no API, no
// cookies, no identity. `mercato up` runs it as bin/storefront; ops/e2e serves the page with it.
package storefront

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
)

// Defaults of `mercato up`; WEB_ADDR, WEB_DIR and WEB_EDGE_URL override them.
const (
	DefaultAddr    = "127.0.0.1:5173" // the page's origin is http://localhost:5173, allowed in routes.yaml
	DefaultDir     = "web/dist"
	DefaultEdgeURL = "https://localhost:8443"
)

// placeholder is the content of <meta name="mercato-edge"> in web/index.html.
const placeholder = "__MERCATO_EDGE__"

// Handler serves dir with the edge URL written into index.html.
func Handler(dir, edgeURL string) (http.Handler, error) {
	edge, err := checkEdge(edgeURL)
	if err != nil {
		return nil, err
	}
	files := os.DirFS(dir)
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return nil, fmt.Errorf("storefront: %w (build it: npm ci && npm run -w web build)", err)
	}
	if !bytes.Contains(index, []byte(placeholder)) {
		return nil, fmt.Errorf("storefront: %s/index.html has no %s placeholder", dir, placeholder)
	}
	index = bytes.ReplaceAll(index, []byte(placeholder), []byte(html.EscapeString(edge)))
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src " + edge,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	static := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch p := path.Clean("/" + r.URL.Path); {
		case p == "/healthz":
			_, _ = w.Write([]byte("ok\n"))
		case p == "/" || p == "/index.html":
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
		case strings.HasSuffix(r.URL.Path, "/"):
			http.NotFound(w, r) // no directory listings
		case servePrecompressed(w, r, files, p):
		default:
			static.ServeHTTP(w, r)
		}
	}), nil
}

// servePrecompressed serves <p>.gz (written by web/build.mjs) when the client takes gzip, and
// reports whether it did.
func servePrecompressed(w http.ResponseWriter, r *http.Request, files fs.FS, p string) bool {
	ctype := mime.TypeByExtension(path.Ext(p))
	if ctype == "" || !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		return false
	}
	f, err := files.Open(strings.TrimPrefix(p, "/") + ".gz")
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	rs, ok := f.(io.ReadSeeker)
	if err != nil || !ok || fi.IsDir() {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	http.ServeContent(w, r, p, fi.ModTime(), rs)
	return true
}

func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

// hostPort is a DNS name or IP literal with an optional port: nothing that could end an HTML
// attribute or a CSP source.
var hostPort = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

// checkEdge accepts an origin: http(s)://host[:port], nothing after it.
func checkEdge(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || !hostPort.MatchString(u.Host) ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("storefront: edge URL %q: want an origin such as %s", raw, DefaultEdgeURL)
	}
	return u.Scheme + "://" + u.Host, nil
}
