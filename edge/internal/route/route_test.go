package route_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/edge/internal/route"
)

func action(cluster string) *routev3.Route_Route {
	return &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}}
}

func vhost(name string, domains []string, routes ...*routev3.Route) *routev3.VirtualHost {
	return &routev3.VirtualHost{Name: name, Domains: domains, Routes: routes}
}

func prefixRoute(prefix, cluster string) *routev3.Route {
	return &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}}, Action: action(cluster)}
}

func TestVirtualHostSelection(t *testing.T) {
	t.Parallel()
	table, err := route.New(&routev3.RouteConfiguration{Name: "public", VirtualHosts: []*routev3.VirtualHost{
		vhost("any", []string{"*"}, prefixRoute("/", "any")),
		vhost("exact", []string{"shop.example"}, prefixRoute("/", "exact")),
		vhost("suffix", []string{"*.example"}, prefixRoute("/", "suffix")),
		vhost("longer-suffix", []string{"*.api.example"}, prefixRoute("/", "longer-suffix")),
		vhost("prefix", []string{"shop.*"}, prefixRoute("/", "prefix")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"shop.example": "exact", "SHOP.example": "exact", "a.example": "suffix", "v1.api.example": "longer-suffix",
		"shop.test": "prefix", "localhost:8443": "any",
	} {
		r := httptest.NewRequest(http.MethodPost, "https://"+host+"/x", nil)
		if got := table.Lookup(r); got == nil || got.Cluster != want {
			t.Errorf("host %s: got %v, want %s", host, got, want)
		}
	}
}

func TestRouteMatching(t *testing.T) {
	t.Parallel()
	routes := []*routev3.Route{
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/svc.A/Get"}}, Action: action("exact")},
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/svc.a/"}, CaseSensitive: wrapperspb.Bool(false),
			Grpc: &routev3.RouteMatch_GrpcRouteMatchOptions{}}, Action: action("grpc-only")},
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/svc.A/"}, Headers: []*routev3.HeaderMatcher{
			{Name: "x-canary", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "1"}}}},
		}}, Action: action("canary")},
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/svc.A"}}, Action: action("separated")},
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/svc\\.B/(Get|List).*"}}}, Action: action("regex")},
	}
	table, err := route.New(&routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("v", []string{"*"}, routes...)}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, contentType, canary, want string
	}{
		{"/svc.A/Get", "application/json", "", "exact"},
		{"/svc.A/Get?x=1", "application/json", "", "exact"},
		{"/svc.A/Put", "application/grpc", "", "grpc-only"},
		{"/SVC.A/Put", "application/grpc+proto", "", "grpc-only"},
		{"/svc.A/Put", "application/grpc-web", "1", "canary"},
		{"/svc.A/Put", "application/json", "", "separated"},
		{"/svc.A", "application/json", "", "separated"},
		{"/svc.AB/Put", "application/json", "", ""},
		{"/svc.B/ListThings", "", "", "regex"},
		{"/svc.B/Delete", "", "", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "https://h"+tt.path, nil)
		r.Header.Set("Content-Type", tt.contentType)
		if tt.canary != "" {
			r.Header.Set("X-Canary", tt.canary)
		}
		got := ""
		if rt := table.Lookup(r); rt != nil {
			got = rt.Cluster
		}
		if got != tt.want {
			t.Errorf("%s (%s): route %q, want %q", tt.path, tt.contentType, got, tt.want)
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	withTimeout := &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/a"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "c"},
			Timeout:           durationpb.New(3 * time.Second),
			MaxStreamDuration: &routev3.RouteAction_MaxStreamDuration{GrpcTimeoutHeaderMax: durationpb.New(5 * time.Second)},
		}}}
	table, err := route.New(&routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("v", []string{"*"}, withTimeout, prefixRoute("/", "default"))}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, grpcTimeout string) time.Duration {
		r := httptest.NewRequest(http.MethodPost, "https://h"+path, nil)
		if grpcTimeout != "" {
			r.Header.Set("Grpc-Timeout", grpcTimeout)
		}
		return table.Lookup(r).TimeoutFor(r)
	}
	for _, tt := range []struct {
		path, grpcTimeout string
		want              time.Duration
	}{
		{"/b", "", 15 * time.Second}, // Envoy's default
		{"/a", "", 3 * time.Second},
		{"/a", "1500m", 1500 * time.Millisecond},
		{"/a", "1M", 5 * time.Second}, // capped by grpc_timeout_header_max
		{"/a", "bogus", 3 * time.Second},
	} {
		if got := get(tt.path, tt.grpcTimeout); got != tt.want {
			t.Errorf("%s grpc-timeout %q: %v, want %v", tt.path, tt.grpcTimeout, got, tt.want)
		}
	}
}

func TestUnsupportedRoutesAreRejected(t *testing.T) {
	t.Parallel()
	for name, r := range map[string]*routev3.Route{
		"weighted clusters": {Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}, Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{}}}}},
		"redirect":    {Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}, Action: &routev3.Route_Redirect{Redirect: &routev3.RedirectAction{}}},
		"query match": {Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, QueryParameters: []*routev3.QueryParameterMatcher{{Name: "q"}}}, Action: action("c")},
		"unknown retry_on": {Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}, Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "c"}, RetryPolicy: &routev3.RetryPolicy{RetryOn: "5xx,sometimes"}}}},
	} {
		_, err := route.New(&routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("v", []string{"*"}, r)}})
		if err == nil {
			t.Errorf("%s: accepted, want an error (NACK)", name)
		}
	}
}
