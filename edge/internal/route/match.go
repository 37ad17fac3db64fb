package route

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"mercato.dev/edge/internal/match"
	"mercato.dev/edge/internal/reply"
)

// Matcher is a compiled RouteMatch: a path rule, then header and gRPC conditions.
type Matcher struct {
	path          pathRule
	value         string // prefix, exact path or separated prefix (lower case when !caseSensitive)
	re            *regexp.Regexp
	caseSensitive bool
	headers       []headerRule
	grpcOnly      bool
}

type pathRule int

const (
	rulePrefix pathRule = iota
	rulePath
	ruleRegex
	ruleSeparatedPrefix
)

type headerRule struct {
	name    string // canonical, or a pseudo-header
	present *bool
	str     *match.String
	invert  bool
}

// NewMatcher compiles m. Conditions the dev edge cannot evaluate are errors.
func NewMatcher(m *routev3.RouteMatch) (*Matcher, error) {
	mt := &Matcher{caseSensitive: m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue(), grpcOnly: m.GetGrpc() != nil}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		mt.path, mt.value = rulePrefix, p.Prefix
	case *routev3.RouteMatch_Path:
		mt.path, mt.value = rulePath, p.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		mt.path, mt.value = ruleSeparatedPrefix, p.PathSeparatedPrefix
	case *routev3.RouteMatch_SafeRegex:
		re, err := match.Regex(p.SafeRegex)
		if err != nil {
			return nil, err
		}
		mt.path, mt.re = ruleRegex, re
	default:
		return nil, fmt.Errorf("route match %T is not supported by the dev edge", p)
	}
	if !mt.caseSensitive {
		mt.value = strings.ToLower(mt.value)
	}
	switch {
	case len(m.GetQueryParameters()) > 0, len(m.GetCookies()) > 0, m.GetRuntimeFraction() != nil,
		m.GetTlsContext() != nil, len(m.GetDynamicMetadata()) > 0, len(m.GetFilterState()) > 0:
		return nil, errors.New("route match: only path, header and grpc conditions are supported by the dev edge")
	}
	for _, h := range m.GetHeaders() {
		hr, err := newHeaderRule(h)
		if err != nil {
			return nil, err
		}
		mt.headers = append(mt.headers, hr)
	}
	return mt, nil
}

func newHeaderRule(h *routev3.HeaderMatcher) (headerRule, error) {
	hr := headerRule{name: h.GetName(), invert: h.GetInvertMatch()}
	if !strings.HasPrefix(hr.name, ":") {
		hr.name = http.CanonicalHeaderKey(hr.name)
	}
	var sm *match.String
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
		sm, err = match.NewString(s.StringMatch)
	case *routev3.HeaderMatcher_ExactMatch:
		sm, err = match.NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s.ExactMatch}})
	case *routev3.HeaderMatcher_PrefixMatch:
		sm, err = match.NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: s.PrefixMatch}})
	case *routev3.HeaderMatcher_SuffixMatch:
		sm, err = match.NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: s.SuffixMatch}})
	case *routev3.HeaderMatcher_ContainsMatch:
		sm, err = match.NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: s.ContainsMatch}})
	case *routev3.HeaderMatcher_SafeRegexMatch:
		sm, err = match.NewString(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: s.SafeRegexMatch}})
	default:
		return hr, fmt.Errorf("header matcher %T is not supported by the dev edge", s)
	}
	hr.str = sm
	return hr, err
}

// Match reports whether r satisfies every condition.
func (m *Matcher) Match(r *http.Request) bool {
	if !m.matchPath(r) {
		return false
	}
	if m.grpcOnly && !reply.IsGRPC(r) {
		return false
	}
	for _, h := range m.headers {
		if !h.match(r) {
			return false
		}
	}
	return true
}

func (m *Matcher) matchPath(r *http.Request) bool {
	path := r.URL.EscapedPath()
	if m.path == ruleRegex {
		return m.re.MatchString(path)
	}
	if !m.caseSensitive {
		path = strings.ToLower(path)
	}
	switch m.path {
	case rulePath:
		return path == m.value
	case ruleSeparatedPrefix:
		rest, ok := strings.CutPrefix(path, m.value)
		return ok && (rest == "" || rest[0] == '/')
	default:
		return strings.HasPrefix(path, m.value)
	}
}

func (h headerRule) match(r *http.Request) bool {
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
