package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// envName is what an environment variable of ours looks like: ORDERS_ADDR, NATS_URL.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// services are the five services; config.Var(service, SUFFIX) names their variables.
var services = []string{"customers", "inventory", "orders", "payments", "notifications"}

// binaries maps an image name (mercato/<name>) to the main package built into it.
var binaries = map[string]string{
	"customers":     "mercato.dev/services/customers/cmd/customers",
	"inventory":     "mercato.dev/services/inventory/cmd/inventory",
	"orders":        "mercato.dev/services/orders/cmd/orders",
	"payments":      "mercato.dev/services/payments/cmd/payments",
	"notifications": "mercato.dev/services/notifications/cmd/notifications",
	"xds":           "mercato.dev/xds/cmd/xds",
	"broker":        "mercato.dev/broker/cmd/broker",
}

// source is what a binary's own code (every mercato.dev package it links) says: the
// environment variables it can read and the other string constants (paths it serves).
type source struct {
	env     map[string]bool
	strings map[string]bool
}

var (
	sourcesMu sync.Mutex
	sources   = map[string]*source{}
)

// binarySource scans the non-test Go files of every mercato.dev package that pkg links. A
// variable counts as read when its name is a string constant there; config.Var(x, "SUFFIX")
// adds <SERVICE>_SUFFIX for every service. It returns nil when pkg is not in this tree.
func binarySource(t *testing.T, pkg string) *source {
	t.Helper()
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if s, ok := sources[pkg]; ok {
		return s
	}
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{.ImportPath}}|{{.Dir}}|{{join .GoFiles ","}}{{end}}`, pkg).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "is not in std") || strings.Contains(string(out), "cannot find module") ||
			strings.Contains(string(out), "not in a module") || strings.Contains(string(out), "no required module") {
			sources[pkg] = nil
			return nil
		}
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	s := &source{env: map[string]bool{}, strings: map[string]bool{}}
	var suffixes []string
	fset := token.NewFileSet()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], "mercato.dev/") || parts[2] == "" {
			continue
		}
		for _, file := range strings.Split(parts[2], ",") {
			f, err := parser.ParseFile(fset, parts[1]+"/"+file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if v, err := strconv.Unquote(n.Value); n.Kind == token.STRING && err == nil {
						s.strings[v] = true
						if envName.MatchString(v) {
							s.env[v] = true
						}
					}
				case *ast.CallExpr:
					if isVar(n.Fun) && len(n.Args) == 2 {
						if lit, ok := n.Args[1].(*ast.BasicLit); ok {
							v, _ := strconv.Unquote(lit.Value)
							suffixes = append(suffixes, v)
						}
					}
				}
				return true
			})
		}
	}
	for _, svc := range services {
		for _, suffix := range suffixes {
			s.env[strings.ToUpper(svc)+"_"+suffix] = true
		}
	}
	sources[pkg] = s
	return s
}

// isVar is config.Var, or Var inside package config.
func isVar(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name == "Var"
	case *ast.Ident:
		return f.Name == "Var"
	}
	return false
}

// serves reports whether the binary's code registers an HTTP handler for path ("/readyz" or a
// mux pattern "GET /readyz").
func (s *source) serves(path string) bool {
	for str := range s.strings {
		if str == path || strings.HasSuffix(str, " "+path) {
			return true
		}
	}
	return false
}

// The scan finds what config and the services read, and nothing made up.
func TestBinarySourceScan(t *testing.T) {
	t.Parallel()
	s := binarySource(t, binaries["orders"])
	if s == nil {
		t.Fatal("orders binary not found")
	}
	for _, want := range []string{"ORDERS_ADDR", "ORDERS_ADMIN_ADDR", "ORDERS_DATABASE_URL", "ORDERS_LEASE_TTL",
		"CUSTOMERS_ADDR", "NATS_URL", "SPIFFE_ENDPOINT_SOCKET", "XDS_REGISTRATION_ADDR", "ADVERTISE_HOST", "MERCATO_DATA"} {
		if !s.env[want] {
			t.Errorf("orders: %s not found among the variables it reads", want)
		}
	}
	for _, never := range []string{"ORDER_ADDR", "XDS_ROUTES", "CUSTOMERS_ADMIN_EMAIL"} {
		if s.env[never] {
			t.Errorf("orders: %s counted as read", never)
		}
	}
	if !s.serves("/readyz") || !s.serves("/healthz") || s.serves("/nothing-here") {
		t.Error("orders: /readyz and /healthz not among its strings")
	}
}
