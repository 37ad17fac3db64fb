package route

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"mercato.dev/edge/internal/match"
	"mercato.dev/edge/internal/reply"
)

// Matcher is a compiled RouteMatch: a path rule, then header and gRPC conditions.
type Matcher struct {
	path          pathRule
	value         string // prefix, exact path or separated prefix (lower case when !caseSensitive)
	re            *regexp.Regexp
	caseSensitive bool
	headers       []*match.Header
	grpcOnly      bool
}

type pathRule int

const (
	rulePrefix pathRule = iota
	rulePath
	ruleRegex
	ruleSeparatedPrefix
)

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
		hr, err := match.NewHeader(h)
		if err != nil {
			return nil, err
		}
		mt.headers = append(mt.headers, hr)
	}
	return mt, nil
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
		if !h.Match(r) {
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
