// Package jwt is Envoy's JWT authentication filter (envoy.filters.http.jwt_authn) for the
// configuration the platform uses: providers verifying ES256 tokens against a JWKS (fetched
// through an upstream cluster, cached for cache_duration, or inline), requirements selected per
// route (PerRouteConfig.requirement_name, or the filter's rules), the verified payload forwarded
// in a header as base64url and the token itself dropped unless forward is set.
//
// A required token that is missing or invalid fails the request with 401 (403 when only its
// audience is wrong, as Envoy does) and Envoy's message; a route without a requirement lets
// every request through untouched.
package jwt

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"mercato.dev/edge/internal/route"
)

// Failure is a request the filter refuses.
type Failure struct {
	Status  int    // 401, or 403 when the token's audience is not allowed
	Message string // Envoy's words, such as "Jwt is missing"
	Missing bool   // no token at all (www-authenticate then names no error)
}

func (f *Failure) Error() string { return f.Message }

func fail(msg string) *Failure { return &Failure{Status: http.StatusUnauthorized, Message: msg} }

var errMissing = &Failure{Status: http.StatusUnauthorized, Message: "Jwt is missing", Missing: true}

// Filter is one compiled JwtAuthentication.
type Filter struct {
	providers       map[string]*provider
	requirements    map[string]requirement
	rules           []rule
	bypassPreflight bool
	now             func() time.Time
}

type rule struct {
	match *route.Matcher
	req   requirement
}

// New compiles cfg; remote JWKS are fetched through keys.
func New(cfg *jwtv3.JwtAuthentication, keys *Keys) (*Filter, error) {
	if len(cfg.GetFilterStateRules().GetRequires()) > 0 {
		return nil, errors.New("jwt_authn: filter_state_rules are not supported by the dev edge")
	}
	f := &Filter{providers: map[string]*provider{}, requirements: map[string]requirement{}, bypassPreflight: cfg.GetBypassCorsPreflight(), now: time.Now}
	for name, p := range cfg.GetProviders() {
		pr, err := newProvider(name, p, keys)
		if err != nil {
			return nil, fmt.Errorf("jwt_authn provider %s: %w", name, err)
		}
		f.providers[name] = pr
	}
	for name, r := range cfg.GetRequirementMap() {
		req, err := f.requirement(r)
		if err != nil {
			return nil, fmt.Errorf("jwt_authn requirement %s: %w", name, err)
		}
		f.requirements[name] = req
	}
	for i, r := range cfg.GetRules() {
		m, err := route.NewMatcher(r.GetMatch())
		if err != nil {
			return nil, fmt.Errorf("jwt_authn rule %d: %w", i, err)
		}
		var req requirement
		switch t := r.GetRequirementType().(type) {
		case *jwtv3.RequirementRule_Requires:
			req, err = f.requirement(t.Requires)
		case *jwtv3.RequirementRule_RequirementName:
			if req = f.requirements[t.RequirementName]; req == nil {
				err = fmt.Errorf("unknown requirement_name %q", t.RequirementName)
			}
		default:
			req = anything{} // a rule without requirement: no JWT needed
		}
		if err != nil {
			return nil, fmt.Errorf("jwt_authn rule %d: %w", i, err)
		}
		f.rules = append(f.rules, rule{m, req})
	}
	return f, nil
}

// Check applies the requirement of the request's route: per, the route's PerRouteConfig (nil
// when it has none), else the first matching rule. On success the verified payloads are in
// their headers and tokens not forwarded are gone; on failure the request must be refused.
func (f *Filter) Check(r *http.Request, per *jwtv3.PerRouteConfig) *Failure {
	req, failure := f.requirementFor(r, per)
	if req == nil || failure != nil {
		return failure
	}
	if f.bypassPreflight && r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		return nil
	}
	c := &check{ctx: r.Context(), r: r, f: f, now: f.now()}
	if failure := req.verify(c); failure != nil {
		return failure
	}
	for _, ok := range c.verified {
		ok.apply(r)
	}
	return nil
}

func (f *Filter) requirementFor(r *http.Request, per *jwtv3.PerRouteConfig) (requirement, *Failure) {
	if per != nil {
		if per.GetDisabled() {
			return nil, nil
		}
		req := f.requirements[per.GetRequirementName()]
		if req == nil { // fail closed: a route asks for a requirement this filter does not have
			return nil, fail("Jwt requirement " + per.GetRequirementName() + " is not configured")
		}
		return req, nil
	}
	for _, ru := range f.rules {
		if ru.match.Match(r) {
			return ru.req, nil
		}
	}
	return nil, nil
}

// check is the verification of one request.
type check struct {
	ctx      context.Context
	r        *http.Request
	f        *Filter
	now      time.Time
	verified []verified
}

type verified struct {
	p     *provider
	token string
	loc   location
}

func (v verified) apply(r *http.Request) {
	if h := v.p.payloadHeader; h != "" {
		payload := strings.Split(v.token, ".")[1]
		if v.p.padPayload {
			payload += strings.Repeat("=", (4-len(payload)%4)%4)
		}
		r.Header.Set(h, payload)
	}
	if !v.p.forward {
		v.loc.remove(r)
	}
}

// requirement is a node of a JwtRequirement tree.
type requirement interface {
	verify(c *check) *Failure
}

func (f *Filter) requirement(r *jwtv3.JwtRequirement) (requirement, error) {
	switch t := r.GetRequiresType().(type) {
	case *jwtv3.JwtRequirement_ProviderName:
		return f.providerReq(t.ProviderName, nil)
	case *jwtv3.JwtRequirement_ProviderAndAudiences:
		return f.providerReq(t.ProviderAndAudiences.GetProviderName(), t.ProviderAndAudiences.GetAudiences())
	case *jwtv3.JwtRequirement_RequiresAny:
		subs, err := f.requirementList(t.RequiresAny.GetRequirements())
		return anyOf(subs), err
	case *jwtv3.JwtRequirement_RequiresAll:
		subs, err := f.requirementList(t.RequiresAll.GetRequirements())
		return allOf(subs), err
	case *jwtv3.JwtRequirement_AllowMissing:
		return allowMissing{failed: false}, nil
	case *jwtv3.JwtRequirement_AllowMissingOrFailed:
		return allowMissing{failed: true}, nil
	case nil:
		return anything{}, nil
	default:
		return nil, fmt.Errorf("%T is not supported by the dev edge", t)
	}
}

func (f *Filter) requirementList(rs []*jwtv3.JwtRequirement) ([]requirement, error) {
	out := make([]requirement, 0, len(rs))
	for _, r := range rs {
		req, err := f.requirement(r)
		if err != nil {
			return nil, err
		}
		out = append(out, req)
	}
	return out, nil
}

func (f *Filter) providerReq(name string, audiences []string) (requirement, error) {
	p := f.providers[name]
	if p == nil {
		return nil, fmt.Errorf("unknown provider %q", name)
	}
	if audiences == nil {
		audiences = p.audiences
	}
	return providerReq{p: p, audiences: audiences}, nil
}

// anything is satisfied by every request.
type anything struct{}

func (anything) verify(*check) *Failure { return nil }

// providerReq needs a valid token of one provider.
type providerReq struct {
	p         *provider
	audiences []string
}

func (pr providerReq) verify(c *check) *Failure {
	token, loc, ok := pr.p.extract(c.r)
	if !ok {
		return errMissing
	}
	if failure := pr.p.verify(c, token, pr.audiences); failure != nil {
		return failure
	}
	c.verified = append(c.verified, verified{pr.p, token, loc})
	return nil
}

// anyOf is satisfied by the first satisfied requirement. Failing, it reports a failure other than
// a missing token when there is one.
type anyOf []requirement

func (a anyOf) verify(c *check) *Failure {
	failure := errMissing
	for _, r := range a {
		f := r.verify(c)
		if f == nil {
			return nil
		}
		if !f.Missing {
			failure = f
		}
	}
	return failure
}

// allOf needs every requirement.
type allOf []requirement

func (a allOf) verify(c *check) *Failure {
	for _, r := range a {
		if f := r.verify(c); f != nil {
			return f
		}
	}
	return nil
}

// allowMissing accepts a request without any token; a token present is verified by the
// provider whose issuer it names and must be valid (unless failed: then anything goes).
type allowMissing struct{ failed bool }

func (a allowMissing) verify(c *check) *Failure {
	for _, name := range sortedNames(c.f.providers) {
		p := c.f.providers[name]
		token, loc, ok := p.extract(c.r)
		if !ok || !p.issues(token) {
			continue
		}
		if failure := p.verify(c, token, p.audiences); failure != nil {
			if a.failed {
				return nil
			}
			return failure
		}
		c.verified = append(c.verified, verified{p, token, loc})
		return nil
	}
	return nil
}

func sortedNames(m map[string]*provider) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// header is a JWT's JOSE header.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// verify checks token as Envoy does, in Envoy's order: form, algorithm, issuer, validity
// period, audience, then the signature against the provider's keys. A token whose signature
// verified before is not decoded again (see verifiedCache); every check but the signature's
// still runs on every request.
func (p *provider) verify(c *check, token string, audiences []string) *Failure {
	tok, cached := p.verified.get(token)
	if !cached {
		var failure *Failure
		if tok, failure = parse(token); failure != nil {
			return failure
		}
	}
	if p.issuer != "" && tok.claims.Issuer != p.issuer {
		return fail("Jwt issuer is not configured")
	}
	if failure := p.checkTimes(tok.claims, c.now); failure != nil {
		return failure
	}
	if len(audiences) > 0 && !slices.ContainsFunc(tok.claims.Audience, func(a string) bool { return slices.Contains(audiences, a) }) {
		return &Failure{Status: http.StatusForbidden, Message: "Audiences in Jwt are not allowed"}
	}
	return p.checkSignature(c.ctx, token, tok)
}

// parsed is a token's decoded header and claims, and the key set its signature verified
// against (nil until it has).
type parsed struct {
	header header
	claims josejwt.Claims
	set    *jose.JSONWebKeySet
}

// parse decodes token's header and claims, failing as Envoy does on a malformed token.
func parse(token string) (parsed, *Failure) {
	var tok parsed
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return tok, fail("Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections")
	}
	if err := decodeSegment(parts[0], &tok.header); err != nil {
		return tok, fail("Jwt header is an invalid JSON")
	}
	if tok.header.Alg != string(jose.ES256) {
		return tok, fail("Jwt header [alg] is not supported")
	}
	if err := decodeSegment(parts[1], &tok.claims); err != nil {
		return tok, fail("Jwt payload is an invalid JSON")
	}
	return tok, nil
}

func (p *provider) checkTimes(claims josejwt.Claims, now time.Time) *Failure {
	switch {
	case claims.NotBefore != nil && now.Add(p.skew).Before(claims.NotBefore.Time()):
		return fail("Jwt not yet valid")
	case claims.Expiry != nil && now.Add(-p.skew).After(claims.Expiry.Time()):
		return fail("Jwt is expired")
	case claims.Expiry == nil && p.requireExp:
		return fail("Jwt is missing expiration")
	}
	return nil
}

func (p *provider) checkSignature(ctx context.Context, token string, tok parsed) *Failure {
	set, err := p.keys.keys(ctx)
	if err != nil {
		return fail("Jwks remote fetch is failed")
	}
	if tok.set == set {
		return nil // verified with this very key set before
	}
	signed, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return fail("Jwt verification fails")
	}
	kid := tok.header.Kid
	found := false
	for _, k := range set.Keys {
		pub, ok := k.Key.(*ecdsa.PublicKey)
		if !ok || (kid != "" && k.KeyID != kid) || (k.Algorithm != "" && k.Algorithm != string(jose.ES256)) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		found = true
		var out map[string]any
		if signed.Claims(pub, &out) == nil {
			tok.set = set
			p.verified.add(token, tok)
			return nil
		}
	}
	if !found {
		return fail("Jwks doesn't have key to match kid or alg from Jwt")
	}
	return fail("Jwt verification fails")
}
