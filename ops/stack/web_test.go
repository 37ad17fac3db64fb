package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The storefront runs when its bundle is built, serving <root>/web/dist, and is listed as
// missing (with the command that builds it) otherwise.
func TestLocalStorefront(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"storefront", "xds"} {
		if err := os.WriteFile(filepath.Join(root, "bin", b), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("XDS_CORS_ALLOW_ORIGINS", "")
	addrs, err := LocalAddrs(func(k string) string { return map[string]string{"XDS_PUBLIC_ADDR": "127.0.0.1:9443"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, missing := Local(root, t.TempDir(), addrs)
	if !slices.ContainsFunc(missing, func(m string) bool { return strings.Contains(m, "npm run -w web build") }) {
		t.Fatalf("no bundle: missing %v, want the web/dist build named", missing)
	}
	dist := filepath.Join(root, "web", "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, "index.html"), []byte("<html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEB_ADDR", "127.0.0.1:5999")
	components, _ := Local(root, t.TempDir(), addrs)
	i := slices.IndexFunc(components, func(c Component) bool { return c.Name == "storefront" })
	if i < 0 {
		t.Fatalf("storefront not among %d components", len(components))
	}
	env := components[i].Env
	for _, want := range []string{"WEB_ADDR=127.0.0.1:5999", "WEB_DIR=" + dist, "WEB_EDGE_URL=https://localhost:9443"} {
		if !slices.Contains(env, want) {
			t.Errorf("storefront env %v lacks %s", env, want)
		}
	}
	xds := components[slices.IndexFunc(components, func(c Component) bool { return c.Name == "xds" })]
	if !slices.Contains(xds.Env, "XDS_CORS_ALLOW_ORIGINS=http://127.0.0.1:5999,http://localhost:5999") {
		t.Errorf("xds env %v does not allow the storefront's origins", xds.Env)
	}
	if s := Summary(components, "/data", addrs); !strings.Contains(s, "http://127.0.0.1:5999") {
		t.Errorf("summary does not name the storefront's URL:\n%s", s)
	}
}

// Every process gets GOMAXPROCS of half the cores (at least one), unless the launcher's caller
// chose one, which the processes inherit.
func TestLocalSharesTheCores(t *testing.T) {
	for _, tt := range []struct {
		set  string
		cpus int
		want []string
	}{
		{"", 1, []string{"GOMAXPROCS=1"}},
		{"", 2, []string{"GOMAXPROCS=1"}},
		{"", 8, []string{"GOMAXPROCS=4"}},
		{"3", 8, nil},
	} {
		if got := gomaxprocsEnv(tt.set, tt.cpus); !slices.Equal(got, tt.want) {
			t.Errorf("gomaxprocsEnv(%q, %d) = %v, want %v", tt.set, tt.cpus, got, tt.want)
		}
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "orders"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	addrs, err := LocalAddrs(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GODEBUG", "")
	components, _ := Local(root, t.TempDir(), addrs)
	if len(components) != 1 || !slices.ContainsFunc(components[0].Env, func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") }) ||
		!slices.Contains(components[0].Env, "GODEBUG=schedtrace=2147483647") {
		t.Fatalf("components %+v: want orders with GOMAXPROCS and GODEBUG in its environment", components)
	}
}

// Every process gets GODEBUG=schedtrace at its largest period (sysmon never sleeps deeply), with
// the launcher caller's own GODEBUG settings kept; a caller that set schedtrace keeps theirs.
func TestLocalKeepsSysmonAwake(t *testing.T) {
	for _, tt := range []struct {
		set  string
		want []string
	}{
		{"", []string{"GODEBUG=schedtrace=2147483647"}},
		{"http2debug=1", []string{"GODEBUG=http2debug=1,schedtrace=2147483647"}},
		{"gctrace=1, schedtrace=1000", nil},
		{"schedtrace=0", nil},
	} {
		if got := godebugEnv(tt.set); !slices.Equal(got, tt.want) {
			t.Errorf("godebugEnv(%q) = %v, want %v", tt.set, got, tt.want)
		}
	}
}
