package match

import (
	"fmt"
	"net/http"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Header is a compiled HeaderMatcher (of a route, or of a local reply mapper's filter).
type Header struct {
	name    string // canonical, or a pseudo-header
	present *bool
	str     *String
	invert  bool
}

// NewHeader compiles h.
func NewHeader(h *routev3.HeaderMatcher) (*Header, error) {
	hr := &Header{name: h.GetName(), invert: h.GetInvertMatch()}
	if !strings.HasPrefix(hr.name, ":") {
		hr.name = http.CanonicalHeaderKey(hr.name)
	}
	var sm *String
	var err error
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		hr.present = &s.PresentMatch
		return hr, nil
	case nil:
		present := true
		hr.present = &present
		return hr, nil
	case *routev3.HeaderMatcher_StringMatch:
		sm, err = NewString(s.StringMatch)
	case *routev3.HeaderMatcher_ExactMatch:
		sm, err = NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s.ExactMatch}})
	case *routev3.HeaderMatcher_PrefixMatch:
		sm, err = NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: s.PrefixMatch}})
	case *routev3.HeaderMatcher_SuffixMatch:
		sm, err = NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: s.SuffixMatch}})
	case *routev3.HeaderMatcher_ContainsMatch:
		sm, err = NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: s.ContainsMatch}})
	case *routev3.HeaderMatcher_SafeRegexMatch:
		sm, err = NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: s.SafeRegexMatch}})
	default:
		return nil, fmt.Errorf("header matcher %T is not supported by the dev edge", s)
	}
	if err != nil {
		return nil, err
	}
	hr.str = sm
	return hr, nil
}

// Match reports whether r's headers satisfy h.
func (h *Header) Match(r *http.Request) bool {
	v, ok := headerValue(r, h.name)
	var matched bool
	switch {
	case h.present != nil:
		matched = ok == *h.present
	default:
		matched = ok && h.str.Match(v)
	}
	return matched != h.invert
}

// headerValue reads a header as Envoy sees it: pseudo-headers included, repeated values joined.
func headerValue(r *http.Request, name string) (string, bool) {
	switch name {
	case ":method":
		return r.Method, true
	case ":path":
		return r.URL.RequestURI(), true
	case ":authority":
		return r.Host, true
	case ":scheme":
		return "https", true
	}
	vs, ok := r.Header[name]
	return strings.Join(vs, ","), ok
}
