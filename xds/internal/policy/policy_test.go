package policy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mercato.dev/proto/catalog"

	"mercato.dev/xds/internal/policy"
)

// publicMethods is the architecture's public surface, with whether each needs a JWT.
var publicMethods = map[string]policy.Auth{
	"/mercato.customers.v1.CustomerService/CreateCustomer":            policy.Anonymous,
	"/mercato.customers.v1.CustomerService/SignIn":                    policy.Anonymous,
	"/mercato.customers.v1.CustomerService/GetCustomer":               policy.RequireJWT,
	"/mercato.customers.v1.CustomerService/UpdateCustomer":            policy.RequireJWT,
	"/mercato.inventory.v1.InventoryService/ListProducts":             policy.Anonymous,
	"/mercato.inventory.v1.InventoryService/GetProduct":               policy.Anonymous,
	"/mercato.inventory.v1.InventoryService/CreateProduct":            policy.RequireJWT,
	"/mercato.inventory.v1.InventoryService/UpdateProduct":            policy.RequireJWT,
	"/mercato.inventory.v1.InventoryService/AdjustStock":              policy.RequireJWT,
	"/mercato.orders.v1.OrderService/CreateOrder":                     policy.RequireJWT,
	"/mercato.orders.v1.OrderService/GetOrder":                        policy.RequireJWT,
	"/mercato.orders.v1.OrderService/ListOrders":                      policy.RequireJWT,
	"/mercato.orders.v1.OrderService/CancelOrder":                     policy.RequireJWT,
	"/mercato.payments.v1.PaymentService/GetPayment":                  policy.RequireJWT,
	"/mercato.notifications.v1.NotificationService/ListNotifications": policy.RequireJWT,
}

func loadRepoRoutes(t *testing.T) *policy.Policy {
	t.Helper()
	p, _, err := policy.Load("../../../edge/routes.yaml", policy.Options{BaseDir: "/srv/data"})
	if err != nil {
		t.Fatalf("edge/routes.yaml: %v", err)
	}
	return p
}

func TestRepoRoutesArePublicMethodsExactly(t *testing.T) {
	t.Parallel()
	p := loadRepoRoutes(t)
	got := map[string]policy.Auth{}
	for _, r := range p.Routes {
		if r.Prefix != "" {
			t.Errorf("route %s: the repository's routes name each method", r.Prefix)
		}
		got[r.Path] = r.Auth
		if want := policy.Safe(r.Path); r.Retries() != want {
			t.Errorf("%s: retries %v, want %v (only reads retry)", r.Path, r.Retries(), want)
		}
		if r.Timeout <= 0 {
			t.Errorf("%s: no effective timeout", r.Path)
		}
	}
	for _, proc := range catalog.Methods() {
		want, public := publicMethods[proc]
		auth, routed := got[proc]
		switch {
		case public && !routed:
			t.Errorf("%s is public but not routed", proc)
		case !public && routed:
			t.Errorf("%s is routed but not public", proc)
		case public && auth != want:
			t.Errorf("%s: auth %q, want %q", proc, auth, want)
		}
	}
	for _, proc := range []string{"ReserveStock", "ReleaseStock", "AuthorizePayment", "VoidPayment"} {
		if !slices.ContainsFunc(p.Private, func(s string) bool { return strings.HasSuffix(s, "/"+proc) }) {
			t.Errorf("%s is not listed under private", proc)
		}
	}
	if got := p.Listener.TLS.CertFile; got != "/srv/data/edge/cert.pem" {
		t.Errorf("cert_file = %q, want it resolved against the data directory", got)
	}
	if p.Clusters["orders"].Timeout.D() != 10*time.Second || p.Clusters["inventory"].Timeout.D() != 5*time.Second {
		t.Errorf("cluster timeouts: orders %s inventory %s", p.Clusters["orders"].Timeout.D(), p.Clusters["inventory"].Timeout.D())
	}
}

func TestMinimalFileTakesDefaults(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(data, policy.Options{BaseDir: "/d"})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Clusters["inventory"]
	checks := map[string]bool{
		"listener address":    p.Listener.Address == "127.0.0.1:8443",
		"key file":            p.Listener.TLS.KeyFile == filepath.Join("/d", "edge/key.pem"),
		"jwt issuer":          p.JWT.Issuer == "mercato.customers" && p.JWT.ForwardPayloadHeader == "x-mercato-claims",
		"jwks":                p.JWT.JWKS.Cluster == "customers" && p.JWT.JWKS.CacheDuration.D() == 300*time.Second,
		"retry on":            slices.Equal(c.Retry.RetryOn, []string{"unavailable", "reset", "connect-failure", "retriable-status-codes"}),
		"retried statuses":    slices.Equal(c.Retry.RetriableStatusCodes, []uint32{503}),
		"circuit breaker":     c.CircuitBreaker.MaxRequests == 1024 && c.CircuitBreaker.MaxRetries == 3,
		"route timeout":       p.Routes[0].Timeout == c.Timeout,
		"read retries":        p.Routes[0].Retries(),
		"proxyless domain":    p.Proxyless.Domain == "mercato.local",
		"cors default method": slices.Equal(p.CORS.AllowMethods, []string{"GET", "POST", "OPTIONS"}),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("default %s not applied: %+v", name, p)
		}
	}
}

func TestClusterDefaultsAndOverrides(t *testing.T) {
	t.Parallel()
	doc := minimal(t) + `
cluster_defaults:
  timeout: 3s
  retry: {num_retries: 1, retry_on: [unavailable]}
`
	doc = strings.Replace(doc, "spiffe_id: spiffe://mercato.local/svc/inventory",
		"spiffe_id: spiffe://mercato.local/svc/inventory\n    timeout: 7s\n    circuit_breaker: {max_requests: 5}", 1)
	p, err := policy.Parse([]byte(doc), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, cus := p.Clusters["inventory"], p.Clusters["customers"]
	if inv.Timeout.D() != 7*time.Second || cus.Timeout.D() != 3*time.Second {
		t.Errorf("timeouts: inventory %s (want 7s), customers %s (want 3s)", inv.Timeout.D(), cus.Timeout.D())
	}
	if inv.CircuitBreaker.MaxRequests != 5 || inv.CircuitBreaker.MaxConnections != 1024 {
		t.Errorf("circuit breaker %+v: want max_requests 5 over the defaults", inv.CircuitBreaker)
	}
	if inv.Retry.NumRetries != 1 || !slices.Equal(inv.Retry.RetryOn, []string{"unavailable"}) || inv.Retry.PerTryTimeout.D() != 2*time.Second {
		t.Errorf("retry %+v: want cluster_defaults over the built-in defaults", inv.Retry)
	}
}

func minimal(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseRejectsMistakes(t *testing.T) {
	t.Parallel()
	const (
		getProduct = "path: /mercato.inventory.v1.InventoryService/GetProduct"
		invID      = "spiffe_id: spiffe://mercato.local/svc/inventory"
		anonymous  = "auth: anonymous"
		clusterInv = "cluster: inventory"
	)
	tests := []struct {
		name string
		edit func(string) string
		want string // a substring of the error
	}{
		{"unknown top-level field", appendText("listenr:\n  address: 127.0.0.1:1\n"),
			"listenr (line 13): unknown field; known fields here: cluster_defaults, clusters, cors, jwt, listener, private, proxyless, route_defaults, routes"},
		{"unknown nested field", replace(invID, invID+"\n    circuit_breaker: {max_request: 3}"),
			"clusters.inventory.circuit_breaker.max_request (line 7): unknown field; known fields here: max_connections, max_pending_requests, max_requests, max_retries"},
		{"unknown route field", replace(anonymous, anonymous+"\n    timout: 2s"), "routes[0].timout (line 13): unknown field"},
		{"duration without unit", replace(invID, invID+"\n    timeout: 5"),
			`clusters.inventory.timeout (line 7): want a duration such as 250ms or 5s, got "5"`},
		{"negative count", replace(invID, invID+"\n    circuit_breaker: {max_requests: -1}"),
			`clusters.inventory.circuit_breaker.max_requests (line 7): want a whole number`},
		{"zero max requests", replace(invID, invID+"\n    circuit_breaker: {max_requests: 0}"),
			"clusters.inventory.circuit_breaker.max_requests (line 7): must be at least 1"},
		{"undeclared cluster", replace(clusterInv, "cluster: inventry"),
			`routes[0].cluster (line 11): "inventry" is not a declared cluster (declared: customers, inventory)`},
		{"method of another cluster", replace(clusterInv, "cluster: customers"),
			"routes[0].cluster (line 11): /mercato.inventory.v1.InventoryService/GetProduct (package mercato.inventory.v1) is not served by cluster customers"},
		{"unknown method", replace(getProduct, "path: /mercato.inventory.v1.InventoryService/GetProducts"),
			`routes[0].path (line 10): "/mercato.inventory.v1.InventoryService/GetProducts" is not a method of the Mercato contracts`},
		{"private method routed", replace(getProduct, "path: /mercato.inventory.v1.InventoryService/ReserveStock"),
			"routes[0] (line 10): /mercato.inventory.v1.InventoryService/ReserveStock is listed under private: it must never be routed"},
		{"prefix covering a private method", replace(getProduct, "prefix: /mercato.inventory.v1.InventoryService/"),
			"routes[0] (line 10): /mercato.inventory.v1.InventoryService/ReserveStock is listed under private"},
		{"prefix of no service", replace(getProduct, "prefix: /mercato.inventory.v1.Inventory/"),
			`routes[0].prefix (line 10): "/mercato.inventory.v1.Inventory/" is not a service of the Mercato contracts`},
		{"path and prefix", replace(getProduct, getProduct+"\n    prefix: /mercato.inventory.v1.InventoryService/"),
			"routes[0] (line 10): exactly one of path or prefix is required"},
		{"method routed twice", appendText("  - {path: /mercato.inventory.v1.InventoryService/GetProduct, cluster: inventory, auth: jwt}\n"),
			"routes[1] (line 13): /mercato.inventory.v1.InventoryService/GetProduct is already routed by routes[0]"},
		{"retry of a method with side effects", replace(getProduct+"\n    "+clusterInv, "path: /mercato.inventory.v1.InventoryService/AdjustStock\n    cluster: inventory\n    retry: true"),
			"routes[0].retry (line 12): /mercato.inventory.v1.InventoryService/AdjustStock has side effects"},
		{"auth typo", replace(anonymous, "auth: jtw"), `routes[0].auth (line 12): want "anonymous" or "jwt", got "jtw"`},
		{"per-try timeout beyond route timeout", replace(anonymous, anonymous+"\n    timeout: 1s"),
			"routes[0].timeout (line 13): 1s is shorter than cluster inventory's retry.per_try_timeout 2s"},
		{"SPIFFE ID of another trust domain", replace(invID, "spiffe_id: spiffe://evil.example/svc/inventory"),
			"clusters.inventory.spiffe_id (line 6): spiffe://evil.example/svc/inventory is outside trust domain mercato.local"},
		{"not a SPIFFE ID", replace(invID, "spiffe_id: https://mercato.local/svc/inventory"),
			`clusters.inventory.spiffe_id (line 6): "https://mercato.local/svc/inventory" is not a SPIFFE ID`},
		{"missing SPIFFE ID", replace(invID, "connect_timeout: 1s"),
			"clusters.inventory.spiffe_id (line 6): the SPIFFE ID the cluster's endpoints present is required"},
		{"SPIFFE ID of two clusters", replace(invID, "spiffe_id: spiffe://mercato.local/svc/customers"),
			"clusters.inventory.spiffe_id (line 6): spiffe://mercato.local/svc/customers is already the ID of cluster customers"},
		{"bad cluster name", replace("  inventory:\n", "  Inventory_1:\n"), `clusters.Inventory_1 (line 6): cluster name "Inventory_1" must match`},
		{"retry condition typo", appendText("cluster_defaults:\n  retry: {retry_on: [5xxx]}\n"),
			`cluster_defaults.retry.retry_on[0] (line 14): "5xxx" is not an Envoy retry condition`},
		{"retried 4xx status", appendText("cluster_defaults:\n  retry: {retriable_status_codes: [404]}\n"),
			"404: only 5xx statuses may be retried"},
		{"status condition without statuses", appendText("cluster_defaults:\n  retry: {retriable_status_codes: []}\n"),
			"retry_on has retriable-status-codes but no codes are listed"},
		{"backoff max below base", appendText("cluster_defaults:\n  retry: {backoff: {base: 1s, max: 100ms}}\n"),
			"backoff.max (line 14): 100ms is shorter than backoff.base 1s"},
		{"origin with a path", appendText("cors:\n  allow_origins: [https://shop.example/app]\n"),
			`cors.allow_origins[0] (line 14): want an origin such as https://shop.example:8443`},
		{"wildcard origin", appendText("cors:\n  allow_origins: ['https://*.example']\n"), `cors.allow_origins[0] (line 14): want an origin`},
		{"upper-case header", appendText("cors:\n  allow_headers: [Content-Type]\n"),
			`cors.allow_headers[0] (line 14): want a lower-case HTTP header name, got "Content-Type"`},
		{"fractional max age", appendText("cors:\n  max_age: 1500ms\n"), "cors.max_age (line 14): must be a whole, non-negative number of seconds"},
		{"listener on a host name", appendText("listener:\n  address: localhost:8443\n"),
			`listener.address (line 14): want an IP address to bind (0.0.0.0, 127.0.0.1, ::), got "localhost"`},
		{"listener port out of range", appendText("listener:\n  address: 127.0.0.1:70000\n"), `listener.address (line 14): port "70000" is not in 1-65535`},
		{"JWKS from an undeclared cluster", appendText("jwt:\n  jwks: {cluster: accounts}\n"),
			`jwt.jwks.cluster (line 14): "accounts" is not a declared cluster`},
		{"JWKS over plain HTTP", appendText("jwt:\n  jwks: {uri: 'http://customers/jwks'}\n"), `jwt.jwks.uri (line 14): want an https:// URL`},
		{"repeated key", replace(anonymous, anonymous+"\n    auth: jwt"), "routes[0].auth (line 13): repeated key"},
		{"no connections", appendText("listener:\n  connections: {max_connections: 0}\n"),
			"listener.connections.max_connections (line 14): must be at least 1"},
		{"no streams", appendText("listener:\n  connections: {max_concurrent_streams: 0}\n"),
			"listener.connections.max_concurrent_streams (line 14): must be from 1 to 2147483647"},
		{"no idle timeout", appendText("listener:\n  connections: {stream_idle_timeout: 0s}\n"),
			"listener.connections.stream_idle_timeout (line 14): must be a positive duration"},
		{"client address header is the claims header", appendText("listener:\n  client_address_header: x-mercato-claims\n"),
			`listener.client_address_header (line 14): "x-mercato-claims" is already jwt.forward_payload_header`},
		{"no body at all", appendText("route_defaults: {max_request_bytes: 0}\n"), "route_defaults.max_request_bytes (line 13): must be at least 1"},
		{"empty token bucket", replace(anonymous, anonymous+"\n    rate_limit: {max_tokens: 0, fill_interval: 1s}"),
			"routes[0].rate_limit.max_tokens (line 13): must be at least 1"},
		{"token bucket filled too often", replace(anonymous, anonymous+"\n    rate_limit: {max_tokens: 5, fill_interval: 10ms}"),
			"routes[0].rate_limit.fill_interval (line 13): must be at least 50ms, got 10ms"},
		{"list where a mapping belongs", replace("private:", "listener: [127.0.0.1]\nprivate:"), "listener (line 7): want a mapping of address, client_address_header, connections, tls, got a list"},
		{"mapping where a list belongs", appendText("cors:\n  allow_origins: {a: b}\n"), "cors.allow_origins (line 14): want a list, got a mapping"},
		{"boolean typo", replace(anonymous, anonymous+"\n    retry: yes"), `routes[0].retry (line 13): want true or false, got "yes"`},
		{"unknown private method", replace("/ReserveStock", "/ReserveStocks"), `private[0] (line 8): "/mercato.inventory.v1.InventoryService/ReserveStocks" is not a method`},
		{"no routes", func(string) string {
			return "clusters: {inventory: {spiffe_id: spiffe://mercato.local/svc/inventory}}\njwt: {jwks: {cluster: inventory}}\n"
		},
			"routes: at least one route is required"},
		{"not YAML", func(string) string { return "clusters: [\n" }, "(document): not a YAML document"},
		{"two documents", appendText("---\nroutes: []\n"), "more than one YAML document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := tc.edit(minimal(t))
			_, err := policy.Parse([]byte(doc), policy.Options{})
			if err == nil {
				t.Fatalf("accepted:\n%s", doc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
		})
	}
}

func replace(old, new string) func(string) string {
	return func(doc string) string {
		if !strings.Contains(doc, old) {
			panic("test edit: " + old + " not in document")
		}
		return strings.Replace(doc, old, new, 1)
	}
}

func appendText(s string) func(string) string { return func(doc string) string { return doc + s } }

func TestErrorsListEveryProblem(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(minimal(t), "cluster: inventory\n    auth: anonymous", "cluster: nowhere\n    auth: maybe", 1)
	_, err := policy.Parse([]byte(doc), policy.Options{})
	errs, ok := err.(*policy.Errors)
	if !ok {
		t.Fatalf("error %T %v, want *policy.Errors", err, err)
	}
	var paths []string
	for _, fe := range errs.List {
		paths = append(paths, fe.Path)
	}
	if !slices.Contains(paths, "routes[0].auth") || !slices.Contains(paths, "routes[0].cluster") {
		t.Errorf("problems at %q, want routes[0].auth and routes[0].cluster", paths)
	}
}

func TestRouteLimits(t *testing.T) {
	t.Parallel()
	p := loadRepoRoutes(t)
	for _, r := range p.Routes {
		if r.MaxRequestBytes != 1<<20 {
			t.Errorf("%s: body limit %d, want the default 1 MiB", r.Match(), r.MaxRequestBytes)
		}
		limited := strings.HasSuffix(r.Path, "/SignIn") || strings.HasSuffix(r.Path, "/CreateCustomer")
		if (r.RateLimit != nil) != limited {
			t.Errorf("%s: rate limit %+v; want one exactly on SignIn and CreateCustomer", r.Match(), r.RateLimit)
		}
	}
	doc := strings.Replace(minimal(t), "auth: anonymous", "auth: anonymous\n    max_request_bytes: 4096\n    rate_limit: {max_tokens: 3, fill_interval: 1s}", 1)
	p, err := policy.Parse([]byte(doc), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Routes[0]
	if r.MaxRequestBytes != 4096 || r.RateLimit == nil || r.RateLimit.MaxTokens != 3 || r.RateLimit.TokensPerFill != 1 || r.RateLimit.FillInterval.D() != time.Second {
		t.Errorf("route limits %d %+v, want 4096 and {3 1 1s}", r.MaxRequestBytes, r.RateLimit)
	}
}

func TestDeploymentAddsCORSOrigins(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte(minimal(t)), policy.Options{CORSOrigins: []string{"https://shop.example", "https://shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := slices.Index(p.CORS.AllowOrigins, "https://shop.example"); n < 0 || slices.Index(p.CORS.AllowOrigins[n+1:], "https://shop.example") >= 0 {
		t.Errorf("origins %q, want https://shop.example once", p.CORS.AllowOrigins)
	}
	_, err = policy.Parse([]byte(minimal(t)), policy.Options{CORSOrigins: []string{"https://shop.example/app"}})
	if err == nil || !strings.Contains(err.Error(), "XDS_CORS_ALLOW_ORIGINS[0]") {
		t.Errorf("a bad origin from the environment: %v", err)
	}
	repo := loadRepoRoutes(t)
	for _, o := range []string{"http://localhost:5173", "http://127.0.0.1:5173", "https://localhost:8443", "https://127.0.0.1:8443"} {
		if !slices.Contains(repo.CORS.AllowOrigins, o) {
			t.Errorf("routes.yaml does not allow %s in development", o)
		}
	}
	for _, h := range []string{"traceparent", "tracestate", "connect-accept-encoding", "x-request-id"} {
		if !slices.Contains(repo.CORS.AllowHeaders, h) {
			t.Errorf("routes.yaml does not allow request header %s", h)
		}
	}
	for _, h := range []string{"www-authenticate", "grpc-status", "grpc-message", "grpc-status-details-bin"} {
		if !slices.Contains(repo.CORS.ExposeHeaders, h) {
			t.Errorf("routes.yaml does not expose %s", h)
		}
	}
}

func TestDeploymentOverridesListenerAddress(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte(minimal(t)), policy.Options{ListenerAddress: "0.0.0.0:8443"})
	if err != nil || p.Listener.Address != "0.0.0.0:8443" {
		t.Fatalf("address %q, err %v", p.Listener.Address, err)
	}
	_, err = policy.Parse([]byte(minimal(t)), policy.Options{ListenerAddress: "edge:8443"})
	if err == nil || !strings.Contains(err.Error(), "listener.address") {
		t.Errorf("a bad override: %v", err)
	}
}
