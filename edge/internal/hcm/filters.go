package hcm

import (
	"errors"
	"fmt"
	"net/http"

	bufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"mercato.dev/edge/internal/cors"
	"mercato.dev/edge/internal/headers"
	"mercato.dev/edge/internal/jwt"
	"mercato.dev/edge/internal/ratelimit"
	"mercato.dev/edge/internal/reply"
	"mercato.dev/edge/internal/route"
)

// filter is one HTTP filter of the chain.
type filter interface {
	// decode handles the request on its way in; true means the filter answered it and the
	// chain stops.
	decode(x *exchange) bool
}

// newFilters compiles the http_filters, which must end with the router. A filter the dev edge
// does not implement is an error, unless it is marked is_optional (then it is left out, as
// Envoy leaves out an optional filter it does not know).
func newFilters(specs []*hcmv3.HttpFilter, keys *jwt.Keys) ([]filter, error) {
	var out []filter
	for i, s := range specs {
		if s.GetConfigDiscovery() != nil {
			return nil, fmt.Errorf("http filter %s: config_discovery is not supported by the dev edge", s.GetName())
		}
		if s.GetDisabled() {
			continue // enabled per route only, which the dev edge does not do
		}
		msg, err := s.GetTypedConfig().UnmarshalNew()
		if err != nil {
			if s.GetIsOptional() {
				continue
			}
			return nil, fmt.Errorf("http filter %s: %w", s.GetName(), err)
		}
		var f filter
		switch c := msg.(type) {
		case *routerv3.Router:
			if i != len(specs)-1 {
				return nil, errors.New("the router must be the last http filter")
			}
			f = routerFilter{}
		case *mutationv3.HeaderMutation:
			f, err = newMutation(c)
		case *corsv3.Cors:
			f = corsFilter{name: s.GetName()}
		case *localratelimitv3.LocalRateLimit:
			var l *ratelimit.Limiter
			l, err = ratelimit.New(c)
			f = rateLimitFilter{name: s.GetName(), own: l}
		case *bufferv3.Buffer:
			f = bufferFilter{name: s.GetName(), max: int64(c.GetMaxRequestBytes().GetValue())}
		case *jwtv3.JwtAuthentication:
			var jf *jwt.Filter
			jf, err = jwt.New(c, keys)
			f = jwtFilter{name: s.GetName(), f: jf}
		default:
			if s.GetIsOptional() {
				continue
			}
			err = fmt.Errorf("%T is not supported by the dev edge", c)
		}
		if err != nil {
			return nil, fmt.Errorf("http filter %s: %w", s.GetName(), err)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, errors.New("no http filters: the router is required")
	}
	if _, ok := out[len(out)-1].(routerFilter); !ok {
		return nil, errors.New("the router must be the last http filter")
	}
	return out, nil
}

// mutationFilter is envoy.filters.http.header_mutation.
type mutationFilter struct {
	request, response headers.Ops
}

func newMutation(c *mutationv3.HeaderMutation) (filter, error) {
	m := c.GetMutations()
	if len(m.GetQueryParameterMutations()) > 0 || len(m.GetResponseTrailersMutations()) > 0 || len(m.GetRequestTrailersMutations()) > 0 {
		return nil, errors.New("only request and response header mutations are supported by the dev edge")
	}
	req, err := headers.FromMutations(m.GetRequestMutations())
	if err != nil {
		return nil, err
	}
	res, err := headers.FromMutations(m.GetResponseMutations())
	if err != nil {
		return nil, err
	}
	return mutationFilter{req, res}, nil
}

func (f mutationFilter) decode(x *exchange) bool {
	f.request.ApplyRequest(x.r)
	if len(f.response) > 0 {
		x.w.onHeaders(f.response.Apply)
	}
	return false
}

// corsFilter is envoy.filters.http.cors; its policy comes from the route or virtual host.
type corsFilter struct{ name string }

func (f corsFilter) decode(x *exchange) bool {
	p, ok := x.perFilter(f.name).(*cors.Policy)
	if !ok {
		return false
	}
	if p.Preflight(x.w, x.r) {
		return true
	}
	r := x.r
	x.w.onHeaders(func(h http.Header) { p.Decorate(r, h) })
	return false
}

// jwtFilter is envoy.filters.http.jwt_authn.
type jwtFilter struct {
	name string
	f    *jwt.Filter
}

func (f jwtFilter) decode(x *exchange) bool {
	var per *jwtv3.PerRouteConfig
	switch c := x.perFilter(f.name).(type) {
	case route.Disabled:
		return false
	case *jwtv3.PerRouteConfig:
		per = c
	}
	failure := f.f.Check(x.r, per)
	if failure == nil {
		return false
	}
	realm := fmt.Sprintf("Bearer realm=%q", "https://"+x.r.Host+x.r.URL.Path)
	if !failure.Missing {
		realm += `, error="invalid_token"`
	}
	x.reply(reply.Reply{Status: failure.Status, Body: failure.Message, Header: http.Header{"Www-Authenticate": {realm}}})
	return true
}
