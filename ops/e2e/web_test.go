package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mercato.dev/ops/storefront"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
)

// repoRoot is the repository, seen from ops/e2e.
const repoRoot = "../.."

// TestStorefrontInBrowser builds the web storefront, serves it from its own origin (a second
// port, so every call to the edge is cross-origin and the non-simple ones are preflighted) and
// drives it in Debian's Chromium with playwright-core (web/test/browser.mjs): once over Connect
// JSON, once over Connect binary, once over gRPC-Web (at phone width), a new customer signs up
// and places an order that must turn CONFIRMED with its notification shown. It checks the wire
// protocol of every call, that preflights happened, the violations and "out of stock" shown in
// the page, the markup against axe-core's WCAG 2.1 A/AA rules on every view it visits, and the
// orders on the server side. Screenshots go to $MERCATO_ARTIFACTS (default
// .artifacts/e2e at the repository root).
func TestStorefrontInBrowser(t *testing.T) {
	p := the(t)
	chromium := envOr("CHROMIUM", "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no Chromium at %s (%v): install Debian's chromium (`apt-get install -y chromium`, as .ci/run does) or set CHROMIUM", chromium, err)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("the npm workspace is not installed (%v): run `npm ci` at the repository root (.ci/run does)", err)
	}
	artifacts, err := filepath.Abs(envOr("MERCATO_ARTIFACTS", filepath.Join(repoRoot, ".artifacts", "e2e")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	// Build the bundle from the working tree (esbuild, about a second) and serve it.
	dist := t.TempDir()
	out, err := exec.Command("node", filepath.Join(repoRoot, "web", "build.mjs"), dist).CombinedOutput()
	if err != nil {
		t.Fatalf("web build: %v\n%s", err, out)
	}
	t.Logf("bundle (web/build.mjs):\n%s", out)
	web := p.serveStorefront(t, dist)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "web", "test", "browser.mjs"))
	cmd.Env = append(os.Environ(),
		"WEB_URL="+web,
		"EDGE_URL="+p.base,
		"CHROMIUM="+chromium,
		"SPKI="+strings.Join(p.edgeSPKIs(t), ","),
		"ARTIFACTS="+artifacts,
		"ADMIN_EMAIL="+adminEmail,
		"ADMIN_PASSWORD="+adminPassword,
		"PRODUCT="+p.seedProduct.GetName(),
	)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		t.Log(lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("browser test (web/test/browser.mjs) failed after %s: %v\n%s", time.Since(start).Round(time.Millisecond), err, stdout.String())
	}
	t.Logf("browser test ran in %s; screenshots in %s", time.Since(start).Round(time.Millisecond), artifacts)

	var res browserResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("browser test output: %v\n%s", err, stdout.String())
	}
	p.checkBrowserRuns(t, res)
}

// browserResult is what web/test/browser.mjs prints.
type browserResult struct {
	Browser string `json:"browser"`
	Runs    []struct {
		Protocol            string            `json:"protocol"`
		Phone               bool              `json:"phone"`
		FirstLoadMs         float64           `json:"firstLoadMs"`
		OrderRoundTripMs    float64           `json:"orderRoundTripMs"`
		NotificationWaitMs  float64           `json:"notificationWaitMs"`
		OrderID             string            `json:"orderId"`
		Notification        string            `json:"notification"`
		Preflights          int               `json:"preflights"`
		Gets                int               `json:"gets"`
		PostContentTypes    []string          `json:"postContentTypes"`
		ExpectedContentType string            `json:"expectedContentType"`
		Violations          map[string]string `json:"violations"`
		SkuViolation        string            `json:"skuViolation"`
		OutOfStockLine      string            `json:"outOfStockLine"`
		HorizontalOverflow  *float64          `json:"horizontalOverflowPx"`
		SignedOut           bool              `json:"signedOut"`
		ConsoleErrors       []string          `json:"consoleErrors"`
		BundleEncoding      string            `json:"bundleEncoding"`
		Audits              int               `json:"audits"`
		Accessibility       []map[string]any  `json:"accessibility"`
	} `json:"runs"`
}

func (p *platform) checkBrowserRuns(t *testing.T, res browserResult) {
	t.Helper()
	if got := len(res.Runs); got != 3 {
		t.Fatalf("%d runs, want 3 (json, binary, grpc-web)", got)
	}
	admin := withToken(context.Background(), p.adminToken)
	orders := p.client(t, "connect").orders
	for _, r := range res.Runs {
		t.Logf("%s (Chromium %s%s): first load to product list %.0f ms, order round trip %.0f ms, notification shown %.0f ms later; %d preflights, %d GETs, POSTs as %v; %d accessibility audits",
			r.Protocol, res.Browser, map[bool]string{true: ", phone width"}[r.Phone], r.FirstLoadMs, r.OrderRoundTripMs, r.NotificationWaitMs, r.Preflights, r.Gets, r.PostContentTypes, r.Audits)
		if !slices.Equal(r.PostContentTypes, []string{r.ExpectedContentType}) {
			t.Errorf("%s: POSTs carried %v, want only %s", r.Protocol, r.PostContentTypes, r.ExpectedContentType)
		}
		if r.Preflights == 0 {
			t.Errorf("%s: no CORS preflight seen: the page and the edge must be different origins", r.Protocol)
		}
		if r.Notification == "" || !r.SignedOut {
			t.Errorf("%s: notification %q, signed out %v", r.Protocol, r.Notification, r.SignedOut)
		}
		if r.BundleEncoding != "gzip" {
			t.Errorf("%s: main.js came with Content-Encoding %q, want the precompressed gzip", r.Protocol, r.BundleEncoding)
		}
		if r.Audits == 0 || len(r.Accessibility) > 0 {
			t.Errorf("%s: %d axe-core audits (WCAG 2.1 A/AA), violations: %v", r.Protocol, r.Audits, r.Accessibility)
		}
		if len(r.ConsoleErrors) > 0 {
			t.Errorf("%s: errors in the page's console: %q", r.Protocol, r.ConsoleErrors)
		}
		ctx, cancel := context.WithTimeout(admin, 10*time.Second)
		got, err := orders.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: r.OrderID})
		cancel()
		if err != nil {
			t.Errorf("%s: GetOrder(%q) as admin: %v", r.Protocol, r.OrderID, err)
		} else if got.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED || got.GetOrder().GetItems()[0].GetProductId() != p.seedProduct.GetProductId() {
			t.Errorf("%s: order %s on the server: %v with %v", r.Protocol, r.OrderID, got.GetOrder().GetStatus(), got.GetOrder().GetItems())
		}
		switch r.Protocol {
		case "json":
			for _, f := range []string{"email", "password", "display_name"} {
				if r.Violations[f] == "" {
					t.Errorf("json: no violation shown next to %s: %v", f, r.Violations)
				}
			}
			t.Logf("violations next to their fields: %v", r.Violations)
		case "binary":
			if r.SkuViolation == "" || !strings.HasPrefix(r.OutOfStockLine, "Out of stock") {
				t.Errorf("binary: SKU violation %q, cart line %q", r.SkuViolation, r.OutOfStockLine)
			}
			t.Logf("admin's bad SKU: %q; cart line asking for 5 of 2: %q", r.SkuViolation, r.OutOfStockLine)
		case "grpc-web":
			if !r.Phone || r.HorizontalOverflow == nil || *r.HorizontalOverflow > 0 {
				t.Errorf("grpc-web at phone width: phone %v, horizontal overflow %v px", r.Phone, r.HorizontalOverflow)
			}
		}
	}
}

// serveStorefront serves dir on the address whose origin the edge allows (XDS_CORS_ALLOW_ORIGINS
// in startPlatform) and returns that origin.
func (p *platform) serveStorefront(t *testing.T, dir string) string {
	t.Helper()
	h, err := storefront.Handler(dir, p.base)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", p.webAddr)
	if err != nil {
		t.Fatalf("storefront listener on %s (reserved at start-up): %v", p.webAddr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + p.webAddr
}

// edgeSPKIs are the base64 SHA-256 hashes of the public keys of the certificates the edge
// presents: Chromium's --ignore-certificate-errors-spki-list trusts a server whose chain has one
// of them (the leaf's is the one that counts: a hash of the dev CA alone is not enough).
func (p *platform) edgeSPKIs(t *testing.T) []string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.publicAddr, &tls.Config{ServerName: "localhost", RootCAs: p.roots})
	if err != nil {
		t.Fatalf("TLS to the edge: %v", err)
	}
	defer conn.Close()
	var out []string
	for _, c := range conn.ConnectionState().PeerCertificates {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		out = append(out, base64.StdEncoding.EncodeToString(sum[:]))
	}
	return out
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
