package main_test

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// TestBinary runs the real xds binary under the test issuer: it becomes ready with the
// repository's routes.yaml, serves its metrics, and stops on SIGTERM (the harness fails the
// test if it ignores SIGTERM for 15s).
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	env := kittest.Start(t, []spiffeid.ID{identity.OpsCLI})
	bin := kittest.Build(t, "mercato.dev/xds/cmd/xds")
	env.Register(identity.XDS, bin)
	dir := t.TempDir()
	routes, err := os.ReadFile("../../../edge/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), routes, 0o600); err != nil {
		t.Fatal(err)
	}
	p := env.StartService(t, "xds", bin, map[string]string{
		"XDS_ROUTES":            filepath.Join(dir, "routes.yaml"),
		"XDS_ADS_ADDR":          freeAddr(t),
		"XDS_REGISTRATION_ADDR": freeAddr(t),
		"XDS_WARMUP":            "100ms",
		// XDS_ADMIN_ADDR is set by the harness (<NAME>_ADMIN_ADDR), which polls its /readyz.
	})
	res, err := http.Get("http://" + p.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	found := false
	for sc := bufio.NewScanner(res.Body); sc.Scan(); {
		found = found || sc.Text() == "xds_routes_valid 1"
	}
	if !found {
		t.Errorf("metrics lack xds_routes_valid 1; logs:\n%s", p.Logs())
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Logs(), "serving ADS") {
		if time.Now().After(deadline) {
			t.Fatalf("ADS not served after its warm-up; logs:\n%s", p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
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
