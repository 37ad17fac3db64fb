// Package cors is Envoy's CORS filter (envoy.filters.http.cors) for one CorsPolicy, as set on a
// virtual host or route through typed_per_filter_config:
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is
//     answered by the edge: 200 with Access-Control-Allow-Origin (the origin), -Allow-Methods,
//     -Allow-Headers, -Max-Age and -Allow-Credentials as configured; it never reaches a service;
//   - a preflight from any other origin carries no Access-Control-* header: with
//     forward_not_matching_preflights false the edge answers it 200 without CORS headers, with
//     true (Envoy's default) it is routed on like any request and the service answers it;
//   - an actual request from an allowed origin gets Access-Control-Allow-Origin (and -Allow-
//     Credentials, -Expose-Headers) on its response, whoever produced the response.
package cors

import (
	"errors"
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"mercato.dev/edge/internal/match"
)

// Policy is a compiled CorsPolicy.
type Policy struct {
	origins        []*match.String
	methods        string
	headers        string
	expose         string
	maxAge         string
	credentials    bool
	privateNetwork bool
	enabled        bool
	forwardOthers  bool // forward_not_matching_preflights
}

// New compiles p.
func New(p *corsv3.CorsPolicy) (*Policy, error) {
	pol := &Policy{
		methods:        p.GetAllowMethods(),
		headers:        p.GetAllowHeaders(),
		expose:         p.GetExposeHeaders(),
		maxAge:         p.GetMaxAge(),
		credentials:    p.GetAllowCredentials().GetValue(),
		privateNetwork: p.GetAllowPrivateNetworkAccess().GetValue(),
		forwardOthers:  p.GetForwardNotMatchingPreflights() == nil || p.GetForwardNotMatchingPreflights().GetValue(),
	}
	var err error
	if pol.enabled, err = fullyOn(p.GetFilterEnabled()); err != nil {
		return nil, err
	}
	for _, m := range p.GetAllowOriginStringMatch() {
		s, err := match.NewString(m)
		if err != nil {
			return nil, err
		}
		pol.origins = append(pol.origins, s)
	}
	return pol, nil
}

// fullyOn reads filter_enabled: unset or 100% is on, 0% off; a fraction in between would need
// Envoy's runtime sampling, which the dev edge does not do.
func fullyOn(f *corev3.RuntimeFractionalPercent) (bool, error) {
	if f == nil || f.GetDefaultValue() == nil {
		return true, nil
	}
	v := f.GetDefaultValue()
	switch {
	case v.GetNumerator() == 0:
		return false, nil
	case v.GetDenominator() == typev3.FractionalPercent_HUNDRED && v.GetNumerator() >= 100,
		v.GetDenominator() == typev3.FractionalPercent_TEN_THOUSAND && v.GetNumerator() >= 10_000,
		v.GetDenominator() == typev3.FractionalPercent_MILLION && v.GetNumerator() >= 1_000_000:
		return true, nil
	}
	return false, errors.New("cors filter_enabled: only 0% or 100% is supported by the dev edge")
}

// Allowed reports whether origin may call: a matcher matching "*" allows every origin.
func (p *Policy) Allowed(origin string) bool {
	for _, m := range p.origins {
		if m.Match("*") || m.Match(origin) {
			return true
		}
	}
	return false
}

// Preflight answers r when it is a preflight the edge handles itself, and reports whether it did.
func (p *Policy) Preflight(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if !p.enabled || origin == "" || r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	allowed := p.Allowed(origin)
	if !allowed && p.forwardOthers {
		return false
	}
	if allowed {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		if p.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		setIf(h, "Access-Control-Allow-Methods", p.methods)
		setIf(h, "Access-Control-Allow-Headers", p.headers)
		setIf(h, "Access-Control-Max-Age", p.maxAge)
		if p.privateNetwork && r.Header.Get("Access-Control-Request-Private-Network") == "true" {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
	}
	w.WriteHeader(http.StatusOK)
	return true
}

// Decorate adds the CORS headers of an actual (non-preflight) response to a request from an
// allowed origin.
func (p *Policy) Decorate(r *http.Request, h http.Header) {
	origin := r.Header.Get("Origin")
	if !p.enabled || origin == "" || !p.Allowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	setIf(h, "Access-Control-Expose-Headers", p.expose)
}

func setIf(h http.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}
