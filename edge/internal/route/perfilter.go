package route

import (
	"fmt"
	"maps"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	bufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"mercato.dev/edge/internal/cors"
	"mercato.dev/edge/internal/ratelimit"
)

// Disabled is the per-filter value of a filter turned off for a route (FilterConfig.disabled).
type Disabled struct{}

// BodyLimit is the buffer filter's per-route configuration (BufferPerRoute).
type BodyLimit struct {
	Disabled bool  // the route's bodies stream through unbuffered
	Max      int64 // otherwise, the most a body may hold
}

// compilePerFilter compiles typed_per_filter_config: a CorsPolicy becomes a *cors.Policy, a JWT
// PerRouteConfig stays as it is. A type the dev edge does not know is an error unless marked
// optional (FilterConfig.is_optional).
func compilePerFilter(in map[string]*anypb.Any) (map[string]any, error) {
	out := make(map[string]any, len(in))
	for name, a := range in {
		msg, err := a.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("typed_per_filter_config[%s]: %w", name, err)
		}
		optional := false
		if fc, ok := msg.(*routev3.FilterConfig); ok {
			if fc.GetDisabled() {
				out[name] = Disabled{}
				continue
			}
			optional = fc.GetIsOptional()
			if msg, err = fc.GetConfig().UnmarshalNew(); err != nil {
				return nil, fmt.Errorf("typed_per_filter_config[%s]: %w", name, err)
			}
		}
		switch m := msg.(type) {
		case *corsv3.CorsPolicy:
			p, err := cors.New(m)
			if err != nil {
				return nil, fmt.Errorf("typed_per_filter_config[%s]: %w", name, err)
			}
			out[name] = p
		case *jwtv3.PerRouteConfig:
			out[name] = m
		case *localratelimitv3.LocalRateLimit:
			l, err := ratelimit.New(m)
			if err != nil {
				return nil, fmt.Errorf("typed_per_filter_config[%s]: %w", name, err)
			}
			out[name] = l
		case *bufferv3.BufferPerRoute:
			out[name] = BodyLimit{Disabled: m.GetDisabled(), Max: int64(m.GetBuffer().GetMaxRequestBytes().GetValue())}
		default:
			if !optional {
				return nil, fmt.Errorf("typed_per_filter_config[%s]: %T is not supported by the dev edge", name, m)
			}
		}
	}
	return out, nil
}

// merge overlays the more specific configs on the outer ones.
func merge(outer, inner map[string]any) map[string]any {
	out := maps.Clone(outer)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, inner)
	return out
}
