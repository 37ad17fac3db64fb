package route_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/edge/internal/route"
)

// FuzzLookup routes arbitrary hosts and request targets through a table shaped like the
// platform's (exact paths, prefixes, a case-insensitive prefix, a regex, wildcard domains):
// nothing panics, and a chosen route's condition really holds for the path as sent upstream.
func FuzzLookup(f *testing.F) {
	routes := []*routev3.Route{
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/mercato.orders.v1.OrderService/GetOrder"}}, Action: action("exact")},
		prefixRoute("/mercato.inventory.v1.InventoryService/", "prefix"),
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/mercato.customers.v1."}, CaseSensitive: wrapperspb.Bool(false)}, Action: action("insensitive")},
		{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/mercato\\.payments\\.v1\\.[A-Za-z]+/Get[A-Za-z]*"}}}, Action: action("regex")},
	}
	table, err := route.New(&routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{
		vhost("api", []string{"api.mercato.local", "*.mercato.local"}, routes...),
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("api.mercato.local", "/mercato.orders.v1.OrderService/GetOrder")
	f.Add("x.mercato.local", "/mercato.inventory.v1.InventoryService/ListProducts?x=1")
	f.Add("API.MERCATO.LOCAL", "/MERCATO.CUSTOMERS.V1.CustomerService/SignIn")
	f.Add("a.mercato.local", "/mercato.payments.v1.PaymentService/GetPayment")
	f.Add("mercato.local", "/mercato.inventory.v1.InventoryService/%2e%2e/x")
	f.Add("api.mercato.local:8443", "//mercato.orders.v1.OrderService/GetOrder")
	f.Fuzz(func(t *testing.T, host, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: http.MethodPost, Host: host, URL: u, Header: http.Header{}}
		rt := table.Lookup(r)
		if rt == nil {
			return
		}
		path := u.EscapedPath()
		ok := map[string]bool{
			"exact":       path == "/mercato.orders.v1.OrderService/GetOrder",
			"prefix":      strings.HasPrefix(path, "/mercato.inventory.v1.InventoryService/"),
			"insensitive": strings.HasPrefix(strings.ToLower(path), "/mercato.customers.v1."),
			"regex":       strings.HasPrefix(path, "/mercato.payments.v1."),
		}[rt.Cluster]
		if !ok {
			t.Fatalf("host %q target %q routed to %s", host, target, rt.Cluster)
		}
		_ = rt.RewritePath(u.Path)
		_ = rt.TimeoutFor(r)
	})
}
