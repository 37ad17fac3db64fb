// Package match evaluates Envoy's string matchers (envoy.type.matcher.v3.StringMatcher) the
// way Envoy does: exact, prefix, suffix, contains and RE2 regular expressions matching the whole
// value, optionally ignoring case.
package match

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// String is a compiled StringMatcher.
type String struct {
	kind       kind
	value      string
	re         *regexp.Regexp
	ignoreCase bool
}

type kind int

const (
	exact kind = iota
	prefix
	suffix
	contains
	regex
)

// NewString compiles m; a matcher kind the edge does not implement (custom) is an error.
func NewString(m *matcherv3.StringMatcher) (*String, error) {
	s := &String{ignoreCase: m.GetIgnoreCase()}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		s.kind, s.value = exact, p.Exact
	case *matcherv3.StringMatcher_Prefix:
		s.kind, s.value = prefix, p.Prefix
	case *matcherv3.StringMatcher_Suffix:
		s.kind, s.value = suffix, p.Suffix
	case *matcherv3.StringMatcher_Contains:
		s.kind, s.value = contains, p.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := Regex(p.SafeRegex)
		if err != nil {
			return nil, err
		}
		s.kind, s.re = regex, re
		return s, nil
	case nil:
		return nil, errors.New("string matcher without a pattern")
	default:
		return nil, fmt.Errorf("string matcher %T is not supported by the dev edge", p)
	}
	if s.ignoreCase {
		s.value = strings.ToLower(s.value)
	}
	return s, nil
}

// Regex compiles an RE2 matcher that must match a whole value, as Envoy's safe_regex does.
func Regex(m *matcherv3.RegexMatcher) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + m.GetRegex() + `)$`)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", m.GetRegex(), err)
	}
	return re, nil
}

// Match reports whether v matches.
func (s *String) Match(v string) bool {
	if s.kind == regex {
		return s.re.MatchString(v)
	}
	if s.ignoreCase {
		v = strings.ToLower(v)
	}
	switch s.kind {
	case exact:
		return v == s.value
	case prefix:
		return strings.HasPrefix(v, s.value)
	case suffix:
		return strings.HasSuffix(v, s.value)
	default:
		return strings.Contains(v, s.value)
	}
}
