package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Services in start order: the ones orders depends on first.
var Services = []string{"customers", "inventory", "payments", "notifications", "orders"}

// servicePorts are the architecture's local defaults (RPC 810x, admin 910x).
var servicePorts = map[string]int{"customers": 1, "inventory": 2, "orders": 3, "payments": 4, "notifications": 5}

// Demo credentials seeded by `mercato up`, printed and documented in the README.
const (
	AdminEmail    = "admin@mercato.local"
	AdminPassword = "mercato-admin-demo"
	DemoEmail     = "demo@mercato.local"
	DemoPassword  = "mercato-demo-pass"
)

// Local is the platform on one machine: binaries from <root>/bin, data under dataDir.
// Components whose binary has not been built are left out and listed in missing.
func Local(root, dataDir string) (components []Component, missing []string) {
	bin := func(name string) (string, bool) {
		p := filepath.Join(root, "bin", name)
		_, err := os.Stat(p)
		return p, err == nil
	}
	socket := filepath.Join(dataDir, "spiffe", "agent.sock")
	common := []string{
		"MERCATO_DATA=" + dataDir,
		"SPIFFE_ENDPOINT_SOCKET=unix://" + socket,
		"XDS_REGISTRATION_ADDR=127.0.0.1:18001",
	}
	add := func(name, exe string, c Component) {
		path, ok := bin(exe)
		if !ok {
			missing = append(missing, exe)
			return
		}
		c.Name, c.Path = name, path
		c.Env = append(append([]string{}, common...), c.Env...)
		components = append(components, c)
	}
	add("spiffe-issuer", "spiffe-issuer", Component{
		Args:  []string{"--registrations", filepath.Join(root, "certs", "registrations.yaml"), "--root", root},
		Ready: SocketReady(socket),
	})
	add("xds", "xds", Component{
		Env:   []string{"XDS_ROUTES=" + filepath.Join(root, "edge", "routes.yaml")},
		Ready: HTTPReady("http://127.0.0.1:9100/readyz"),
	})
	for _, svc := range Services {
		c := Component{Ready: HTTPReady(fmt.Sprintf("http://127.0.0.1:910%d/readyz", servicePorts[svc]))}
		if svc == "customers" {
			c.Env = []string{"CUSTOMERS_ADMIN_EMAIL=" + AdminEmail, "CUSTOMERS_ADMIN_PASSWORD=" + AdminPassword}
		}
		add(svc, svc, c)
	}
	if envoy, err := exec.LookPath("envoy"); err == nil {
		components = append(components, Component{
			Name: "edge (envoy)", Path: envoy, Env: common,
			Args:  []string{"-c", filepath.Join(root, "edge", "envoy.yaml"), "--base-id", "8443"},
			Ready: HTTPReady("http://127.0.0.1:9901/ready"),
		})
	} else {
		add("edge", "edge", Component{Ready: HTTPReady("http://127.0.0.1:9900/readyz")})
	}
	return components, missing
}

// Summary is what `mercato up` prints once everything is ready.
func Summary(components []Component, dataDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nMercato is up (data in %s, logs in %s):\n", dataDir, filepath.Join(dataDir, "logs"))
	for _, c := range components {
		switch {
		case c.Name == "spiffe-issuer":
			fmt.Fprintf(&b, "  %-14s unix://%s\n", c.Name, filepath.Join(dataDir, "spiffe", "agent.sock"))
		case c.Name == "xds":
			fmt.Fprintf(&b, "  %-14s ADS 127.0.0.1:18000, registration 127.0.0.1:18001, admin http://127.0.0.1:9100\n", c.Name)
		case strings.HasPrefix(c.Name, "edge"):
			fmt.Fprintf(&b, "  %-14s https://localhost:8443 (CA %s)\n", c.Name, filepath.Join(dataDir, "edge", "ca.pem"))
		default:
			n := servicePorts[c.Name]
			fmt.Fprintf(&b, "  %-14s mTLS 127.0.0.1:810%d, admin http://127.0.0.1:910%d/readyz\n", c.Name, n, n)
		}
	}
	fmt.Fprintf(&b, "\nFirst call:\n  curl --cacert %s -H 'Content-Type: application/json' -d '{}' \\\n    https://localhost:8443/mercato.inventory.v1.InventoryService/ListProducts\n",
		filepath.Join(dataDir, "edge", "ca.pem"))
	fmt.Fprintf(&b, "\nDemo customer: %s / %s   Admin: %s / %s\nCtrl-C stops everything.\n", DemoEmail, DemoPassword, AdminEmail, AdminPassword)
	return b.String()
}
