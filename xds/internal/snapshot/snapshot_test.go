package snapshot_test

import (
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	buffer "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	cors "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	headermutation "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwt "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	localratelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	connectionlimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"mercato.dev/xds/internal/policy"
	"mercato.dev/xds/internal/snapshot"
)

func repoPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, _, err := policy.Load("../../../edge/routes.yaml", policy.Options{BaseDir: "/data"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func endpoints(perCluster int, clusters ...string) snapshot.Endpoints {
	eps := snapshot.Endpoints{}
	for ci, c := range clusters {
		for i := range perCluster {
			addr := netip.AddrFrom4([4]byte{10, byte(ci), byte(i >> 8), byte(i)})
			eps[c] = append(eps[c], snapshot.Endpoint{Address: addr, Port: 8100, Hostname: addr.String()})
		}
	}
	return eps
}

func build(t testing.TB, p *policy.Policy, eps snapshot.Endpoints) snapshot.Set {
	t.Helper()
	set, err := snapshot.Build(p, eps)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return set
}

func TestEveryResourceValidatesAndSnapshotsAreConsistent(t *testing.T) {
	t.Parallel()
	p := repoPolicy(t)
	set := build(t, p, endpoints(3, p.ClusterNames()...))
	for name, snap := range map[string]*cache.Snapshot{"edge": set.Edge, "proxyless": set.Proxyless} {
		if err := snapshot.Consistent(snap); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, typ := range []resource.Type{resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType} {
			res := snap.GetResources(typ)
			if len(res) == 0 {
				t.Errorf("%s: no %s", name, typ)
			}
			for n, r := range res {
				if err := snapshot.Validate(r); err != nil {
					t.Errorf("%s %s %q: %v", name, typ, n, err)
				}
				if v, ok := r.(interface{ ValidateAll() error }); !ok || v.ValidateAll() != nil {
					t.Errorf("%s %s %q: ValidateAll missing or failing", name, typ, n)
				}
			}
		}
	}
	if err := set.Edge.Consistent(); err != nil {
		t.Errorf("edge: go-control-plane's Consistent: %v", err)
	}
}

func TestEdgeListenerFollowsTheContract(t *testing.T) {
	t.Parallel()
	set := build(t, repoPolicy(t), nil)
	l := set.Edge.GetResources(resource.ListenerType)[snapshot.PublicListener].(*listener.Listener)
	if a := l.GetAddress().GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != 8443 {
		t.Errorf("address %v, want 127.0.0.1:8443", a)
	}
	chain := l.GetFilterChains()[0]
	down := unpack[*tls.DownstreamTlsContext](t, chain.GetTransportSocket().GetTypedConfig())
	cert := down.GetCommonTlsContext().GetTlsCertificates()[0]
	if cert.GetCertificateChain().GetFilename() != "/data/edge/cert.pem" || cert.GetPrivateKey().GetFilename() != "/data/edge/key.pem" {
		t.Errorf("certificate files %v", cert)
	}
	if alpn := down.GetCommonTlsContext().GetAlpnProtocols(); !slices.Equal(alpn, []string{"h2", "http/1.1"}) {
		t.Errorf("alpn %v", alpn)
	}
	limit := unpack[*connectionlimit.ConnectionLimit](t, chain.GetFilters()[0].GetTypedConfig())
	if limit.GetMaxConnections().GetValue() != 10000 {
		t.Errorf("connection limit %v, want 10000", limit)
	}
	manager := unpack[*hcm.HttpConnectionManager](t, chain.GetFilters()[1].GetTypedConfig())
	if manager.GetStatPrefix() != "public" || manager.GetRds().GetRouteConfigName() != "public" || manager.GetRds().GetConfigSource().GetAds() == nil {
		t.Errorf("connection manager %v", manager)
	}
	var filters []string
	for _, f := range manager.GetHttpFilters() {
		filters = append(filters, f.GetName())
	}
	want := []string{"envoy.filters.http.header_mutation", "envoy.filters.http.cors", "envoy.filters.http.local_ratelimit",
		"envoy.filters.http.jwt_authn", "envoy.filters.http.buffer", "envoy.filters.http.router"}
	if !slices.Equal(filters, want) {
		t.Errorf("http filters %v, want %v", filters, want)
	}
	switch {
	case manager.GetCommonHttpProtocolOptions().GetIdleTimeout().AsDuration() != 5*time.Minute,
		manager.GetRequestHeadersTimeout().AsDuration() != 10*time.Second,
		manager.GetStreamIdleTimeout().AsDuration() != time.Minute,
		manager.GetHttp2ProtocolOptions().GetMaxConcurrentStreams().GetValue() != 100:
		t.Errorf("connection settings: idle %v, headers %v, stream idle %v, streams %v", manager.GetCommonHttpProtocolOptions().GetIdleTimeout(),
			manager.GetRequestHeadersTimeout(), manager.GetStreamIdleTimeout(), manager.GetHttp2ProtocolOptions().GetMaxConcurrentStreams())
	}
	if n := len(manager.GetLocalReplyConfig().GetMappers()); n != 21 {
		t.Errorf("%d local reply mappers, want 3 protocols × 7 statuses", n)
	}
	mutations := unpack[*headermutation.HeaderMutation](t, manager.GetHttpFilters()[0].GetTypedConfig()).GetMutations().GetRequestMutations()
	if len(mutations) != 3 || mutations[1].GetRemove() != "x-mercato-client-address" ||
		mutations[2].GetAppend().GetHeader().GetKey() != "x-mercato-client-address" || mutations[2].GetAppend().GetHeader().GetValue() != "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" {
		t.Errorf("request mutations %v: want the claims and client address stripped, then the client address set", mutations)
	}
	auth := unpack[*jwt.JwtAuthentication](t, manager.GetHttpFilters()[3].GetTypedConfig())
	prov := auth.GetProviders()["customers"]
	switch {
	case prov.GetIssuer() != "mercato.customers" || !slices.Equal(prov.GetAudiences(), []string{"mercato"}):
		t.Errorf("provider %v", prov)
	case prov.GetForward() || prov.GetForwardPayloadHeader() != "x-mercato-claims":
		t.Errorf("provider forwards %v %q", prov.GetForward(), prov.GetForwardPayloadHeader())
	case prov.GetRemoteJwks().GetHttpUri().GetCluster() != "customers" || prov.GetRemoteJwks().GetCacheDuration().AsDuration() != 300*time.Second:
		t.Errorf("jwks %v", prov.GetRemoteJwks())
	case auth.GetRequirementMap()["required"].GetProviderName() != "customers":
		t.Errorf("requirement map %v", auth.GetRequirementMap())
	}
}

func TestPublicRoutesArePublicMethodsOnly(t *testing.T) {
	t.Parallel()
	p := repoPolicy(t)
	set := build(t, p, nil)
	rc := set.Edge.GetResources(resource.RouteType)[snapshot.PublicRoutes].(*route.RouteConfiguration)
	vh := rc.GetVirtualHosts()[0]
	if vh.GetName() != "mercato" || !slices.Equal(vh.GetDomains(), []string{"*"}) || vh.GetTypedPerFilterConfig()["envoy.filters.http.cors"] == nil {
		t.Fatalf("virtual host %v", vh)
	}
	cp := unpack[*cors.CorsPolicy](t, vh.GetTypedPerFilterConfig()["envoy.filters.http.cors"])
	var origins []string
	for _, o := range cp.GetAllowOriginStringMatch() {
		origins = append(origins, o.GetExact())
	}
	switch {
	case !slices.Equal(origins, []string{"http://localhost:5173", "http://127.0.0.1:5173", "https://localhost:8443", "https://127.0.0.1:8443"}):
		t.Errorf("CORS origins %v", origins)
	case cp.GetAllowHeaders() != "authorization, content-type, connect-protocol-version, connect-timeout-ms, connect-accept-encoding, connect-content-encoding, "+
		"grpc-timeout, grpc-accept-encoding, x-grpc-web, x-user-agent, x-request-id, traceparent, tracestate":
		t.Errorf("CORS allow headers %q", cp.GetAllowHeaders())
	case cp.GetExposeHeaders() != "grpc-status, grpc-message, grpc-status-details-bin, grpc-encoding, connect-content-encoding, www-authenticate, x-request-id":
		t.Errorf("CORS expose headers %q", cp.GetExposeHeaders())
	case cp.GetMaxAge() != "7200" || cp.GetAllowMethods() != "GET, POST, OPTIONS" || cp.GetForwardNotMatchingPreflights().GetValue():
		t.Errorf("CORS policy %v", cp)
	}
	routed := map[string]*route.Route{}
	for _, r := range vh.GetRoutes() {
		routed[r.GetMatch().GetPath()] = r
	}
	if len(routed) != 15 {
		t.Errorf("%d routes, want the 15 public methods", len(routed))
	}
	for _, private := range []string{"ReserveStock", "ReleaseStock", "AuthorizePayment", "VoidPayment"} {
		for path := range routed {
			if strings.HasSuffix(path, "/"+private) {
				t.Errorf("%s is routed", path)
			}
		}
	}
	for path, r := range routed {
		method := path[strings.LastIndex(path, "/")+1:]
		read := strings.HasPrefix(method, "Get") || strings.HasPrefix(method, "List")
		if rp := r.GetRoute().GetRetryPolicy(); (rp != nil) != read {
			t.Errorf("%s: retry policy %v; want one exactly on reads", path, rp)
		} else if read && (rp.GetRetryOn() != "unavailable,reset,connect-failure,retriable-status-codes" ||
			!slices.Equal(rp.GetRetriableStatusCodes(), []uint32{503}) || rp.GetNumRetries().GetValue() != 2) {
			t.Errorf("%s: retry policy %v", path, rp)
		}
		_, needsJWT := r.GetTypedPerFilterConfig()["envoy.filters.http.jwt_authn"]
		anonymous := slices.Contains([]string{"CreateCustomer", "SignIn", "ListProducts", "GetProduct"}, method)
		if needsJWT == anonymous {
			t.Errorf("%s: JWT required %v", path, needsJWT)
		}
		if needsJWT {
			per := unpack[*jwt.PerRouteConfig](t, r.GetTypedPerFilterConfig()["envoy.filters.http.jwt_authn"])
			if per.GetRequirementName() != "required" {
				t.Errorf("%s: requirement %q", path, per.GetRequirementName())
			}
		}
		if got := r.GetRoute().GetTimeout().AsDuration(); got != p.Clusters[r.GetRoute().GetCluster()].Timeout.D() {
			t.Errorf("%s: timeout %s", path, got)
		}
		if b := unpack[*buffer.BufferPerRoute](t, r.GetTypedPerFilterConfig()["envoy.filters.http.buffer"]); b.GetBuffer().GetMaxRequestBytes().GetValue() != 1<<20 {
			t.Errorf("%s: body limit %v, want 1 MiB", path, b)
		}
		rl, limited := r.GetTypedPerFilterConfig()["envoy.filters.http.local_ratelimit"]
		if limited != (method == "SignIn" || method == "CreateCustomer") {
			t.Errorf("%s: rate limited %v", path, limited)
		}
		if limited {
			cfg := unpack[*localratelimit.LocalRateLimit](t, rl)
			if cfg.GetTokenBucket().GetMaxTokens() == 0 || cfg.GetFilterEnforced().GetDefaultValue().GetNumerator() != 100 || !cfg.GetRateLimitedAsResourceExhausted() {
				t.Errorf("%s: rate limit %v", path, cfg)
			}
		}
	}
}

func TestEdgeClustersFollowTheContract(t *testing.T) {
	t.Parallel()
	p := repoPolicy(t)
	set := build(t, p, endpoints(2, "orders"))
	clusters := set.Edge.GetResources(resource.ClusterType)
	if got := slices.Sorted(maps.Keys(clusters)); !slices.Equal(got, []string{"customers", "inventory", "notifications", "orders", "payments"}) {
		t.Fatalf("clusters %v", got)
	}
	c := clusters["orders"].(*cluster.Cluster)
	if c.GetType() != cluster.Cluster_EDS || c.GetEdsClusterConfig().GetServiceName() != "orders" || c.GetEdsClusterConfig().GetEdsConfig().GetAds() == nil {
		t.Errorf("discovery %v %v", c.GetType(), c.GetEdsClusterConfig())
	}
	th := c.GetCircuitBreakers().GetThresholds()[0]
	if th.GetMaxConnections().GetValue() != 1024 || th.GetMaxRequests().GetValue() != 1024 || th.GetMaxRetries().GetValue() != 3 || th.GetMaxPendingRequests().GetValue() != 1024 {
		t.Errorf("thresholds %v", th)
	}
	if c.GetOutlierDetection().GetConsecutive_5Xx().GetValue() != 5 {
		t.Errorf("outlier detection %v", c.GetOutlierDetection())
	}
	if _, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]; !ok {
		t.Error("no HTTP/2 protocol options")
	}
	up := unpack[*tls.UpstreamTlsContext](t, c.GetTransportSocket().GetTypedConfig())
	common := up.GetCommonTlsContext()
	san := common.GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames()[0]
	switch {
	case up.GetSni() != "orders":
		t.Errorf("sni %q", up.GetSni())
	case san.GetSanType() != tls.SubjectAltNameMatcher_URI || san.GetMatcher().GetExact() != "spiffe://mercato.local/svc/orders":
		t.Errorf("SAN matcher %v", san)
	case common.GetTlsCertificateSdsSecretConfigs()[0].GetName() != "default" ||
		common.GetTlsCertificateSdsSecretConfigs()[0].GetSdsConfig().GetApiConfigSource().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != "spiffe":
		t.Errorf("SVID secret %v", common.GetTlsCertificateSdsSecretConfigs())
	case common.GetCombinedValidationContext().GetValidationContextSdsSecretConfig().GetName() != "ROOTCA":
		t.Errorf("bundle secret %v", common.GetCombinedValidationContext())
	case !slices.Equal(common.GetAlpnProtocols(), []string{"h2"}):
		t.Errorf("alpn %v", common.GetAlpnProtocols())
	}
	cla := set.Edge.GetResources(resource.EndpointType)["orders"].(*endpoint.ClusterLoadAssignment)
	if n := len(cla.GetEndpoints()[0].GetLbEndpoints()); n != 2 {
		t.Errorf("orders has %d endpoints, want 2", n)
	}
	if loc := cla.GetEndpoints()[0].GetLocality(); loc.GetZone() == "" {
		t.Errorf("locality without an ID: %v (gRPC rejects it)", loc)
	}
	if empty := set.Edge.GetResources(resource.EndpointType)["payments"].(*endpoint.ClusterLoadAssignment); len(empty.GetEndpoints()) != 0 {
		t.Errorf("payments has endpoints %v", empty.GetEndpoints())
	}
}

func TestProxylessResources(t *testing.T) {
	t.Parallel()
	p := repoPolicy(t)
	set := build(t, p, endpoints(1, "inventory"))
	l, ok := set.Proxyless.GetResources(resource.ListenerType)["inventory.mercato.local"].(*listener.Listener)
	if !ok {
		t.Fatalf("no API listener inventory.mercato.local: %v", slices.Collect(maps.Keys(set.Proxyless.GetResources(resource.ListenerType))))
	}
	manager := unpack[*hcm.HttpConnectionManager](t, l.GetApiListener().GetApiListener())
	if manager.GetRds().GetRouteConfigName() != "grpc-inventory" {
		t.Errorf("API listener routes from %q", manager.GetRds().GetRouteConfigName())
	}
	c := set.Proxyless.GetResources(resource.ClusterType)["grpc-inventory"].(*cluster.Cluster)
	if c.GetTransportSocket() != nil {
		t.Error("proxyless cluster has a transport socket; gRPC brings its own credentials")
	}
	if c.GetCircuitBreakers().GetThresholds()[0].GetMaxRequests().GetValue() != p.Clusters["inventory"].CircuitBreaker.MaxRequests {
		t.Error("proxyless cluster does not share the circuit breaker thresholds")
	}
	rc := set.Proxyless.GetResources(resource.RouteType)["grpc-inventory"].(*route.RouteConfiguration)
	routes := rc.GetVirtualHosts()[0].GetRoutes()
	last := routes[len(routes)-1]
	if last.GetMatch().GetPrefix() != "/" || last.GetRoute().GetRetryPolicy() != nil || last.GetRoute().GetCluster() != "grpc-inventory" {
		t.Errorf("default route %v", last)
	}
	for _, r := range routes[:len(routes)-1] {
		if !strings.Contains(r.GetMatch().GetPath(), "/Get") && !strings.Contains(r.GetMatch().GetPath(), "/List") {
			t.Errorf("retrying route for %s, which has side effects", r.GetMatch().GetPath())
		}
	}
}

func TestVersionIsAHashOfTheContent(t *testing.T) {
	t.Parallel()
	p := repoPolicy(t)
	eps := endpoints(3, "orders", "inventory")
	a := build(t, p, eps)
	shuffled := snapshot.Endpoints{"orders": slices.Clone(eps["orders"]), "inventory": slices.Clone(eps["inventory"])}
	slices.Reverse(shuffled["orders"])
	b := build(t, p, shuffled)
	if snapshot.Version(a.Edge) != snapshot.Version(b.Edge) || snapshot.Version(a.Proxyless) != snapshot.Version(b.Proxyless) {
		t.Errorf("same content, different versions: %s/%s vs %s/%s", snapshot.Version(a.Edge), snapshot.Version(a.Proxyless), snapshot.Version(b.Edge), snapshot.Version(b.Proxyless))
	}
	for _, typ := range []resource.Type{resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType} {
		if a.Edge.GetVersion(typ) != snapshot.Version(a.Edge) {
			t.Errorf("%s has version %s, not the snapshot's", typ, a.Edge.GetVersion(typ))
		}
	}
	c := build(t, p, endpoints(4, "orders", "inventory"))
	if snapshot.Version(a.Edge) == snapshot.Version(c.Edge) {
		t.Error("a new endpoint did not change the edge version")
	}
}

func TestValidateLooksInsideTypedConfigs(t *testing.T) {
	t.Parallel()
	bad := &listener.Listener{Name: "x", ApiListener: &listener.ApiListener{ApiListener: mustAny(t, &hcm.HttpConnectionManager{})}}
	if err := bad.ValidateAll(); err != nil {
		t.Fatalf("the outer listener should pass its own rules: %v", err)
	}
	err := snapshot.Validate(bad)
	if err == nil || !strings.Contains(err.Error(), "StatPrefix") {
		t.Errorf("Validate = %v, want the nested connection manager's missing stat_prefix", err)
	}
	unknown := &listener.Listener{Name: "x", ApiListener: &listener.ApiListener{ApiListener: &anypb.Any{TypeUrl: "type.googleapis.com/nope.Nope"}}}
	if err := snapshot.Validate(unknown); err == nil {
		t.Error("an Any of an unknown type passed")
	}
}

func TestConsistentCatchesDanglingReferences(t *testing.T) {
	t.Parallel()
	set := build(t, repoPolicy(t), nil)
	res := map[resource.Type][]types.Resource{}
	for _, typ := range []resource.Type{resource.ListenerType, resource.ClusterType, resource.EndpointType} {
		for _, r := range set.Proxyless.GetResources(typ) {
			res[typ] = append(res[typ], r)
		}
	}
	snap, err := cache.NewSnapshot("x", res) // no route configurations
	if err != nil {
		t.Fatal(err)
	}
	if err := snapshot.Consistent(snap); err == nil {
		t.Error("a proxyless snapshot without its route configurations is consistent")
	}
}

func unpack[T proto.Message](t testing.TB, a *anypb.Any) T {
	t.Helper()
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Fatalf("unpack %s: %v", a.GetTypeUrl(), err)
	}
	out, ok := m.(T)
	if !ok {
		t.Fatalf("typed config is %T", m)
	}
	return out
}

func mustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func benchmarkSnapshot(b *testing.B, total int) {
	p := repoPolicy(b)
	names := p.ClusterNames()
	eps := endpoints(total/len(names), names...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := snapshot.Build(p, eps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total), "endpoints")
}

// BenchmarkSnapshot1000 builds and validates both snapshots with 1000 endpoints (200 in each
// of the five clusters).
func BenchmarkSnapshot1000(b *testing.B) { benchmarkSnapshot(b, 1000) }

// BenchmarkSnapshot10000 is the same with 10000 endpoints.
func BenchmarkSnapshot10000(b *testing.B) { benchmarkSnapshot(b, 10000) }

// withoutNotifications is the repository's policy minus the notifications cluster and route.
func withoutNotifications(t *testing.T) *policy.Policy {
	t.Helper()
	data, err := os.ReadFile("../../../edge/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), "  notifications:\n    spiffe_id: spiffe://mercato.local/svc/notifications\n", "", 1)
	doc = strings.Replace(doc, "  - {path: /mercato.notifications.v1.NotificationService/ListNotifications, cluster: notifications, auth: jwt}\n", "", 1)
	p, err := policy.Parse([]byte(doc), policy.Options{BaseDir: "/data"})
	if err != nil {
		t.Fatal(err)
	}
	if _, still := p.Clusters["notifications"]; still {
		t.Fatal("edit did not remove the cluster")
	}
	return p
}

func TestBridgeKeepsDroppedClustersUnderTheNewRoutes(t *testing.T) {
	t.Parallel()
	eps := endpoints(2, "notifications", "orders")
	before := build(t, repoPolicy(t), eps).Edge
	after := build(t, withoutNotifications(t), eps).Edge
	bridge, ok, err := snapshot.Bridge(before, after)
	if err != nil || !ok {
		t.Fatalf("Bridge = %v, %v; want a bridge", ok, err)
	}
	if err := snapshot.Consistent(bridge); err != nil {
		t.Error(err)
	}
	rc := bridge.GetResources(resource.RouteType)["public"].(*route.RouteConfiguration)
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		if r.GetRoute().GetCluster() == "notifications" {
			t.Errorf("bridge still routes %s to notifications", r.GetMatch().GetPath())
		}
	}
	if _, ok := bridge.GetResources(resource.ClusterType)["notifications"]; !ok {
		t.Error("bridge dropped the notifications cluster already")
	}
	cla, ok := bridge.GetResources(resource.EndpointType)["notifications"].(*endpoint.ClusterLoadAssignment)
	if !ok || len(cla.GetEndpoints()[0].GetLbEndpoints()) != 2 {
		t.Errorf("bridge endpoints of notifications: %v", cla)
	}
	if v := snapshot.Version(bridge); v == snapshot.Version(before) || v == snapshot.Version(after) {
		t.Errorf("bridge version %s equals a neighbour's", v)
	}
	if again, _, _ := snapshot.Bridge(before, after); snapshot.Version(again) != snapshot.Version(bridge) {
		t.Error("bridge version is not deterministic")
	}
	if _, ok, _ := snapshot.Bridge(after, before); ok {
		t.Error("adding a cluster needs no bridge")
	}
	if _, ok, _ := snapshot.Bridge(nil, before); ok {
		t.Error("the first snapshot needs no bridge")
	}
}
