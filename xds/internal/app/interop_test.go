package app_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"

	"mercato.dev/xds/internal/app"
)

// TestDevEdgeServesThePolicy is the contract between xds/ and edge/ end to end: the real dev
// edge binary (edge/cmd/edge), an ADS client of this control plane and nothing else, serves
// the repository's routes.yaml on its public listener: a public method reaches the registered
// inventory endpoint over mTLS, a private one is 404, a JWT route without a token is 401, and
// CORS answers preflights by origin.
func TestDevEdgeServesThePolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the dev edge")
	}
	if out, err := exec.Command("go", "env", "GOWORK").Output(); err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		t.Skip("needs the workspace (go.work) to build mercato.dev/edge/cmd/edge; run from the repository")
	}
	env := kittest.Start(t, testIDs)
	bin := kittest.Build(t, "mercato.dev/edge/cmd/edge")
	env.Register(identity.Edge, bin)
	data, public := t.TempDir(), freeAddr(t)
	p := startPlane(t, env, repoRoutes(t), func(c *app.Config) { c.EdgeDataDir, c.PublicAddr = data, public })
	serveInventory(t, env, p)
	env.StartService(t, "edge", bin, map[string]string{"EDGE_XDS_ADDR": p.ADSAddr(), "MERCATO_DATA": data, "EDGE_DEV_CERT": "on"})
	client := publicClient(t, filepath.Join(data, "edge", "ca.pem"))
	base := "https://" + public

	var body string
	took := eventually(t, 15*time.Second, "GetProduct through the edge", func() bool {
		code, b, _ := call(t, client, http.MethodPost, base+inventoryv1connect.InventoryServiceGetProductProcedure, `{"productId":"`+quickProduct+`"}`, nil)
		body = b
		return code == http.StatusOK
	})
	t.Logf("public GetProduct answered through the dev edge after %s: %s", took.Round(time.Millisecond), body)
	if !strings.Contains(body, `"sku":"SKU-1"`) {
		t.Errorf("body %s", body)
	}
	if code, _, _ := call(t, client, http.MethodPost, base+inventoryv1connect.InventoryServiceReserveStockProcedure, `{}`, nil); code != http.StatusNotFound {
		t.Errorf("ReserveStock through the edge: %d, want 404 (not routed)", code)
	}
	code, _, h := call(t, client, http.MethodPost, base+"/mercato.customers.v1.CustomerService/GetCustomer", `{}`, nil)
	if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("Www-Authenticate"), "Bearer") {
		t.Errorf("GetCustomer without a token: %d %q, want 401 with a Bearer challenge", code, h.Get("Www-Authenticate"))
	}
	preflight := func(origin string) http.Header {
		_, _, h := call(t, client, http.MethodOptions, base+inventoryv1connect.InventoryServiceGetProductProcedure, "", map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,connect-protocol-version",
		})
		return h
	}
	if got := preflight("http://localhost:5173").Get("Access-Control-Allow-Origin"); got != "http://localhost:5173" {
		t.Errorf("preflight from an allowed origin: Access-Control-Allow-Origin %q", got)
	}
	if got := preflight("https://evil.example").Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from another origin: Access-Control-Allow-Origin %q", got)
	}
}

func publicClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	var pem []byte
	eventually(t, 10*time.Second, "dev CA "+caFile, func() bool {
		var err error
		pem, err = os.ReadFile(caFile)
		return err == nil
	})
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func call(t *testing.T, c *http.Client, method, url, body string, headers map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err.Error(), http.Header{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
