package snapshot

import (
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/proto/catalog"
	"mercato.dev/xds/internal/policy"
)

// ProxylessName is the name of cluster c's route configuration and cluster for proxyless gRPC
// clients: "grpc-<c>".
func ProxylessName(c string) string { return "grpc-" + c }

// Target is the listener (and xds:/// target host) of cluster c for proxyless clients.
func Target(p *policy.Policy, c string) string { return c + "." + p.Proxyless.Domain }

// apiListener is the listener a proxyless gRPC client resolves for xds:///<c>.<domain>:
// an HTTP connection manager whose routes come from RDS "grpc-<c>".
func apiListener(p *policy.Policy, c string) *listener.Listener {
	manager := &hcm.HttpConnectionManager{
		StatPrefix: ProxylessName(c),
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			RouteConfigName: ProxylessName(c), ConfigSource: adsSource(),
		}},
		HttpFilters: []*hcm.HttpFilter{httpFilter(wellknown.Router, &router.Router{})},
	}
	return &listener.Listener{
		Name:        Target(p, c),
		ApiListener: &listener.ApiListener{ApiListener: mustAny(manager)},
	}
}

// proxylessRoutes sends every call for the target to cluster "grpc-<c>"; the reads of the
// cluster's service (NO_SIDE_EFFECTS methods) retry on unavailable, the rest never do.
// Authorization stays with the service: proxyless callers are services of the trust domain.
func proxylessRoutes(p *policy.Policy, c string) *route.RouteConfiguration {
	cfg := p.Clusters[c]
	action := func(retry bool) *route.Route_Route {
		a := &route.RouteAction{ClusterSpecifier: &route.RouteAction_Cluster{Cluster: ProxylessName(c)}}
		if retry && cfg.Retry.NumRetries > 0 {
			a.RetryPolicy = &route.RetryPolicy{
				RetryOn:      "unavailable",
				NumRetries:   wrapperspb.UInt32(cfg.Retry.NumRetries),
				RetryBackOff: retryPolicy(cfg.Retry).RetryBackOff,
			}
		}
		return &route.Route_Route{Route: a}
	}
	var routes []*route.Route
	for _, proc := range catalog.Methods() {
		if policy.Safe(proc) && servedBy(proc, c) {
			routes = append(routes, &route.Route{
				Name:   proc,
				Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Path{Path: proc}},
				Action: action(true),
			})
		}
	}
	routes = append(routes, &route.Route{
		Name:   "default",
		Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
		Action: action(false),
	})
	return &route.RouteConfiguration{
		Name: ProxylessName(c),
		VirtualHosts: []*route.VirtualHost{{
			Name:    c,
			Domains: []string{"*"},
			Routes:  routes,
		}},
	}
}

// servedBy reports whether procedure belongs to cluster c's contracts (package mercato.<c>.v*).
func servedBy(procedure, c string) bool {
	svc := policy.ServiceOf(procedure)
	return len(svc) > len("mercato."+c+".") && svc[:len("mercato."+c+".")] == "mercato."+c+"."
}
