package snapshot

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	buffer "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	localratelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	connectionlimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/xds/internal/policy"
)

// Filter names of the limits the edge enforces.
const (
	LocalRateLimit  = "envoy.filters.http.local_ratelimit"
	Buffer          = "envoy.filters.http.buffer"
	ConnectionLimit = "envoy.filters.network.connection_limit"
)

// limitConnections sets the HTTP connection manager's downstream bounds: idle connections
// closed, request headers and idle streams timed out, HTTP/2 streams per connection capped.
func limitConnections(m *hcm.HttpConnectionManager, c policy.Connections) {
	m.CommonHttpProtocolOptions = &core.HttpProtocolOptions{IdleTimeout: duration(c.IdleTimeout)}
	m.RequestHeadersTimeout = duration(c.RequestHeadersTimeout)
	m.StreamIdleTimeout = duration(c.StreamIdleTimeout)
	m.Http2ProtocolOptions = &core.Http2ProtocolOptions{MaxConcurrentStreams: wrapperspb.UInt32(c.MaxConcurrentStreams)}
}

// connectionLimit is the network filter that closes connections beyond max_connections at
// once (Envoy's global cap is the bootstrap's overload_manager).
func connectionLimit(c policy.Connections) *listener.Filter {
	return &listener.Filter{
		Name: ConnectionLimit,
		ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(&connectionlimit.ConnectionLimit{
			StatPrefix:     "public_connections",
			MaxConnections: wrapperspb.UInt64(uint64(c.MaxConnections)),
		})},
	}
}

// rateLimitFilter is the local rate limit HTTP filter: no bucket of its own, each limited route
// brings one (routeRateLimit).
func rateLimitFilter() *hcm.HttpFilter {
	return httpFilter(LocalRateLimit, &localratelimit.LocalRateLimit{StatPrefix: "public_rate_limit"})
}

// bufferFilter receives whole request bodies before the router sends anything upstream, so a
// body over the limit is answered 413 before any attempt, retry or per-try timeout starts.
func bufferFilter(p *policy.Policy) *hcm.HttpFilter {
	return httpFilter(Buffer, &buffer.Buffer{MaxRequestBytes: wrapperspb.UInt32(p.RouteDefaults.MaxRequestBytes)})
}

// routeLimits are a route's typed_per_filter_config for the buffer and rate limit filters.
func routeLimits(r policy.Route) map[string]*anypb.Any {
	out := map[string]*anypb.Any{Buffer: mustAny(&buffer.BufferPerRoute{
		Override: &buffer.BufferPerRoute_Buffer{Buffer: &buffer.Buffer{MaxRequestBytes: wrapperspb.UInt32(r.MaxRequestBytes)}},
	})}
	if rl := r.RateLimit; rl != nil {
		all := &core.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED}}
		out[LocalRateLimit] = mustAny(&localratelimit.LocalRateLimit{
			StatPrefix: "public_rate_limit",
			TokenBucket: &typev3.TokenBucket{
				MaxTokens:     rl.MaxTokens,
				TokensPerFill: wrapperspb.UInt32(rl.TokensPerFill),
				FillInterval:  duration(rl.FillInterval),
			},
			FilterEnabled:                  all,
			FilterEnforced:                 all,
			RateLimitedAsResourceExhausted: true,
		})
	}
	return out
}
