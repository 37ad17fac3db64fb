package jwt

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
)

// provider is a compiled JwtProvider.
type provider struct {
	name          string
	issuer        string
	audiences     []string
	keys          keySource
	forward       bool
	payloadHeader string
	padPayload    bool
	skew          time.Duration
	requireExp    bool
	locations     []location
	verified      verifiedCache
}

func newProvider(name string, p *jwtv3.JwtProvider, keys *Keys) (*provider, error) {
	switch {
	case p.GetSubjects() != nil, p.GetMaxLifetime() != nil, len(p.GetClaimToHeaders()) > 0, len(p.GetFromCookies()) > 0:
		return nil, errors.New("subjects, max_lifetime, claim_to_headers and from_cookies are not supported by the dev edge")
	}
	pr := &provider{
		name: name, issuer: p.GetIssuer(), audiences: p.GetAudiences(), forward: p.GetForward(),
		payloadHeader: p.GetForwardPayloadHeader(), padPayload: p.GetPadForwardPayloadHeader(),
		skew: 60 * time.Second, requireExp: p.GetRequireExpiration(),
	}
	if s := p.GetClockSkewSeconds(); s > 0 {
		pr.skew = time.Duration(s) * time.Second
	}
	switch src := p.GetJwksSourceSpecifier().(type) {
	case *jwtv3.JwtProvider_RemoteJwks:
		uri := src.RemoteJwks.GetHttpUri()
		ttl := 10 * time.Minute // Envoy's default cache_duration
		if d := src.RemoteJwks.GetCacheDuration(); d != nil {
			ttl = d.AsDuration()
		}
		timeout := uri.GetTimeout().AsDuration()
		if timeout <= 0 {
			timeout = time.Second
		}
		pr.keys = remoteKeys{cache: keys, key: remoteKey{cluster: uri.GetCluster(), uri: uri.GetUri(), ttl: ttl}, timeout: timeout}
	case *jwtv3.JwtProvider_LocalJwks:
		if src.LocalJwks.GetInlineString() == "" && len(src.LocalJwks.GetInlineBytes()) == 0 {
			return nil, errors.New("local_jwks: only an inline JWKS is supported by the dev edge")
		}
		set, err := parseJWKS([]byte(src.LocalJwks.GetInlineString() + string(src.LocalJwks.GetInlineBytes())))
		if err != nil {
			return nil, fmt.Errorf("local_jwks: %w", err)
		}
		pr.keys = localKeys{set}
	default:
		return nil, errors.New("a provider needs remote_jwks or local_jwks")
	}
	for _, h := range p.GetFromHeaders() {
		pr.locations = append(pr.locations, location{header: http.CanonicalHeaderKey(h.GetName()), prefix: h.GetValuePrefix()})
	}
	for _, q := range p.GetFromParams() {
		pr.locations = append(pr.locations, location{param: q})
	}
	if len(pr.locations) == 0 { // Envoy's default locations
		pr.locations = []location{{header: "Authorization", prefix: "Bearer "}, {param: "access_token"}}
	}
	return pr, nil
}

// issues reports whether token names this provider's issuer (any token, when it names none).
func (p *provider) issues(token string) bool {
	if p.issuer == "" {
		return true
	}
	if tok, ok := p.verified.get(token); ok {
		return tok.claims.Issuer == p.issuer
	}
	parts := strings.Split(token, ".")
	var claims struct {
		Iss string `json:"iss"`
	}
	return len(parts) == 3 && decodeSegment(parts[1], &claims) == nil && claims.Iss == p.issuer
}

// location is where a token may be: a header with a value prefix, or a query parameter.
type location struct {
	header, prefix, param string
}

// extract returns the first token found in the provider's locations.
func (p *provider) extract(r *http.Request) (string, location, bool) {
	for _, l := range p.locations {
		if l.param != "" {
			if v := r.URL.Query().Get(l.param); v != "" {
				return v, l, true
			}
			continue
		}
		for _, v := range r.Header.Values(l.header) {
			if len(v) >= len(l.prefix) && strings.EqualFold(v[:len(l.prefix)], l.prefix) {
				if tok := strings.TrimSpace(v[len(l.prefix):]); tok != "" {
					return tok, l, true
				}
			}
		}
	}
	return "", location{}, false
}

// remove drops the token from the request, as Envoy does when the provider does not forward it.
func (l location) remove(r *http.Request) {
	if l.param == "" {
		r.Header.Del(l.header)
		return
	}
	q := r.URL.Query()
	q.Del(l.param)
	r.URL.RawQuery = q.Encode()
}
