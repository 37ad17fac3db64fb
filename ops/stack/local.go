package stack

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
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

// gomaxprocsEnv is GOMAXPROCS for every process of the platform on one machine of cpus cores:
// half of them (at least one), unless the caller set GOMAXPROCS (which the processes inherit).
// About ten Go processes share these cores, each by default with as many Ps as the machine has
// cores; every P without work spins looking for some (stealing, with nanosleeps and futex
// wakeups), and on 2 cores that spinning cost about a fifth of the CPU of an order (make bench,
// README "Where an order's cost went"). A deployment gets the same from its CPU limits: Go
// derives GOMAXPROCS from the container's limit.
func gomaxprocsEnv(set string, cpus int) []string {
	if set != "" {
		return nil
	}
	return []string{"GOMAXPROCS=" + strconv.Itoa(max(1, cpus/2))}
}

// onRequestPath are the processes that serve requests and events, which get godebugEnv; the
// issuer, the control plane and the storefront's server idle between rare calls.
var onRequestPath = map[string]bool{"edge": true, "broker": true, "customers": true, "inventory": true,
	"orders": true, "payments": true, "notifications": true}

// godebugEnv is GODEBUG for the processes on the request path: the caller's settings (set) plus
// schedtrace at its largest period, unless the caller set schedtrace.
//
// Go's system monitor (sysmon) sleeps deeply while every P of its process is idle, and the
// first system call after that wakes it with a futex and sets it polling every 20 µs again. A
// process that goes idle between requests thousands of times a second pays that each time: in
// inventory under GetProduct at c=16, 8 s of perf stat counted 23,709 nanosleep and 5,987 futex
// calls and 39,483 context switches, and a perf profile of the whole process (pprof cannot see
// sysmon) put 12 % of inventory's and of the edge's CPU in sysmon. With schedtrace set, sysmon
// never sleeps deeply (the runtime keeps it awake to print the trace on time) and backs off to
// polling every 10 ms while there is nothing to retake: 780 nanosleep, 26 futex calls and
// 7,172 context switches, with 18 % more requests a second. The period, 2^31-1 ms, prints
// nothing unless the host has been up for 24.8 days (then a line at each start). The price is
// sysmon's 100 wakeups a second in each of these processes when idle: the idle platform's CPU
// went from 2.3 to 3.9 % of a core (20 s, twice each). Deployments do not get this unless they
// set GODEBUG themselves.
func godebugEnv(set string) []string {
	for _, kv := range strings.Split(set, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return nil // the caller chose: the processes inherit it
		}
	}
	if set != "" {
		set += ","
	}
	return []string{"GODEBUG=" + set + "schedtrace=" + strconv.Itoa(math.MaxInt32)}
}

// Local is the platform on one machine: binaries from <root>/bin, data under dataDir, listening
// on addrs. Components whose binary has not been built are left out and listed in missing.
func Local(root, dataDir string, addrs Addrs) (components []Component, missing []string) {
	bin := func(name string) (string, bool) {
		p := filepath.Join(root, "bin", name)
		_, err := os.Stat(p)
		return p, err == nil
	}
	socket := filepath.Join(dataDir, "spiffe", "agent.sock")
	common := append([]string{
		"MERCATO_DATA=" + dataDir,
		"SPIFFE_ENDPOINT_SOCKET=unix://" + socket,
		"NATS_URL=" + NATSURL(addrs),
	}, addrs.env()...)
	common = append(common, gomaxprocsEnv(os.Getenv("GOMAXPROCS"), runtime.NumCPU())...)
	if j, env, ok := jaeger(root); ok { // first: every process exports its spans to it
		if _, err := os.Stat(j.Path); err == nil {
			components = append(components, j)
			common = append(common, env...)
		} else {
			missing = append(missing, "jaeger (make jaeger)")
		}
	}
	add := func(name, exe string, c Component) {
		path, ok := bin(exe)
		if !ok {
			missing = append(missing, exe)
			return
		}
		c.Name, c.Path = name, path
		c.Env = append(append([]string{}, common...), c.Env...)
		if onRequestPath[name] {
			c.Env = append(c.Env, godebugEnv(os.Getenv("GODEBUG"))...)
		}
		components = append(components, c)
	}
	envoy, envoyErr := exec.LookPath("envoy")
	registrations := filepath.Join(root, "certs", "registrations.yaml")
	if envoyErr == nil {
		registrations = filepath.Join(dataDir, "spiffe", "registrations.yaml") // + the local envoy, see Prepare
	}
	add("spiffe-issuer", "spiffe-issuer", Component{
		Args:  []string{"--registrations", registrations, "--root", root},
		Ready: SocketReady(socket),
	})
	if os.Getenv("NATS_URL") == "" { // no external broker: run bin/broker, storage under the data dir
		add("broker", "broker", Broker(dataDir, addrs))
	}
	add("xds", "xds", Component{
		// The warm-up protects a restarted control plane from pushing empty EDS while services
		// re-register; locally everything starts together, so a short one suffices.
		Env:   append([]string{"XDS_ROUTES=" + filepath.Join(root, "edge", "routes.yaml"), "XDS_WARMUP=1s"}, corsOriginsEnv()...),
		Ready: HTTPReady("http://" + addrs.XDSAdmin + "/readyz"),
	})
	for _, svc := range Services {
		c := Component{Ready: HTTPReady("http://" + addrs.Admin[svc] + "/readyz")}
		if svc == "customers" {
			c.Env = []string{"CUSTOMERS_ADMIN_EMAIL=" + AdminEmail, "CUSTOMERS_ADMIN_PASSWORD=" + AdminPassword}
		}
		add(svc, svc, c)
	}
	if envoyErr == nil {
		components = append(components, Component{
			Name: "edge (envoy)", Path: envoy, Env: common,
			Args:  []string{"-c", filepath.Join(dataDir, "edge", "envoy.yaml"), "--base-id", "8443"},
			Ready: HTTPReady("http://127.0.0.1:9901/ready"),
		})
	} else {
		add("edge", "edge", Component{Ready: HTTPReady("http://" + addrs.EdgeAdmin + "/readyz")})
	}
	if web, ok := storefrontComponent(root, addrs); ok {
		add("storefront", "storefront", web)
	} else {
		missing = append(missing, "web/dist (npm ci && npm run -w web build)")
	}
	return components, missing
}

// Broker is the event broker as `mercato up` runs it (bin/broker: mTLS on addrs.Broker, admin on
// addrs.BrokerAdmin, JetStream under <dataDir>/nats), besides the variables every component gets.
// Path and Name are filled in by Local.
func Broker(dataDir string, addrs Addrs) Component {
	return Component{
		Env:   []string{"BROKER_ADDR=" + addrs.Broker, "BROKER_ADMIN_ADDR=" + addrs.BrokerAdmin, "BROKER_STORE_DIR=" + filepath.Join(dataDir, "nats")},
		Ready: HTTPReady("http://" + addrs.BrokerAdmin + "/readyz"),
	}
}

// NATSURL is the broker's URL: NATS_URL when set (then `mercato up` runs no broker).
func NATSURL(addrs Addrs) string {
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return "tls://" + addrs.Broker
}

// Prepare writes what a locally installed Envoy needs: its bootstrap (generated by the dev edge
// binary for this machine's socket and ADS address) and a registrations file that also gives
// the envoy executable the edge's SPIFFE ID. Nothing to do without Envoy.
func Prepare(root, dataDir string) error {
	envoy, err := exec.LookPath("envoy")
	if err != nil {
		return nil
	}
	for _, dir := range []string{"spiffe", "edge"} {
		if err := os.MkdirAll(filepath.Join(dataDir, dir), 0o755); err != nil {
			return err
		}
	}
	entries, err := os.ReadFile(filepath.Join(root, "certs", "registrations.yaml"))
	if err != nil {
		return err
	}
	entries = append(entries, fmt.Sprintf("  - spiffe_id: spiffe://mercato.local/edge\n    selectors: [unix:path:%s]\n", envoy)...)
	if err := os.WriteFile(filepath.Join(dataDir, "spiffe", "registrations.yaml"), entries, 0o644); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(root, "bin", "edge"), "bootstrap")
	cmd.Env = append(os.Environ(), "MERCATO_DATA="+dataDir)
	bootstrap, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("edge bootstrap: %w", err)
	}
	return os.WriteFile(filepath.Join(dataDir, "edge", "envoy.yaml"), bootstrap, 0o644)
}

// Summary is what `mercato up` prints once everything is ready.
func Summary(components []Component, dataDir string, addrs Addrs) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nMercato is up (data in %s, logs in %s):\n", dataDir, filepath.Join(dataDir, "logs"))
	if !slices.ContainsFunc(components, func(c Component) bool { return c.Name == "broker" }) {
		fmt.Fprintf(&b, "  %-14s %s (external JetStream broker)\n", "nats", NATSURL(addrs))
	}
	for _, c := range components {
		switch {
		case c.Name == "broker":
			fmt.Fprintf(&b, "  %-14s %s (JetStream, mTLS), admin http://%s/readyz\n", c.Name, NATSURL(addrs), addrs.BrokerAdmin)
		case c.Name == "spiffe-issuer":
			fmt.Fprintf(&b, "  %-14s unix://%s\n", c.Name, filepath.Join(dataDir, "spiffe", "agent.sock"))
		case c.Name == "xds":
			fmt.Fprintf(&b, "  %-14s ADS %s, registration %s, admin http://%s\n", c.Name, addrs.XDSADS, addrs.XDSRegistration, addrs.XDSAdmin)
		case c.Name == "storefront":
			fmt.Fprintf(&b, "  %-14s %s (the web shop; it calls the edge)\n", c.Name, webURL())
		case c.Name == "jaeger":
			fmt.Fprintf(&b, "  %-14s OTLP 127.0.0.1:4317/4318, query API %s (mercato trace <order-id>)\n", c.Name, JaegerQueryURL)
		case strings.HasPrefix(c.Name, "edge"):
			fmt.Fprintf(&b, "  %-14s %s (CA %s)\n", c.Name, addrs.PublicURL(), filepath.Join(dataDir, "edge", "ca.pem"))
		default:
			fmt.Fprintf(&b, "  %-14s mTLS %s, admin http://%s/readyz\n", c.Name, addrs.Service[c.Name], addrs.Admin[c.Name])
		}
	}
	fmt.Fprintf(&b, "\nFirst call:\n  curl --cacert %s -H 'Content-Type: application/json' -d '{}' \\\n    %s/mercato.inventory.v1.InventoryService/ListProducts\n",
		filepath.Join(dataDir, "edge", "ca.pem"), addrs.PublicURL())
	fmt.Fprintf(&b, "\nDemo customer: %s / %s   Admin: %s / %s\nCtrl-C stops everything.\n", DemoEmail, DemoPassword, AdminEmail, AdminPassword)
	return b.String()
}
