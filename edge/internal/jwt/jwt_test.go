package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/protobuf/types/known/emptypb"

	"mercato.dev/edge/internal/jwt"
)

// keys is an ES256 key and its JWKS.
type keys struct {
	signer jose.Signer
	jwks   string
}

func newKeys(t *testing.T, kid string) keys {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256"}}})
	return keys{signer, string(b)}
}

func (k keys) token(t *testing.T, iss string) string {
	t.Helper()
	now := time.Now()
	tok, err := josejwt.Signed(k.signer).Claims(josejwt.Claims{Issuer: iss, Subject: "c1", Audience: josejwt.Audience{"mercato"},
		Expiry: josejwt.NewNumericDate(now.Add(time.Minute))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func provider(iss, jwks string, mutate func(*jwtv3.JwtProvider)) *jwtv3.JwtProvider {
	p := &jwtv3.JwtProvider{
		Issuer: iss, Audiences: []string{"mercato"}, ForwardPayloadHeader: "x-claims",
		JwksSourceSpecifier: &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: jwks}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func req(name string) *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: name}}
}

func named(name string) *jwtv3.PerRouteConfig {
	return &jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: name}}
}

func TestRequirements(t *testing.T) {
	t.Parallel()
	a, b := newKeys(t, "a"), newKeys(t, "b")
	cfg := &jwtv3.JwtAuthentication{
		Providers: map[string]*jwtv3.JwtProvider{
			"a": provider("iss-a", a.jwks, nil),
			"b": provider("iss-b", b.jwks, func(p *jwtv3.JwtProvider) {
				p.Forward, p.PadForwardPayloadHeader = true, true
				p.FromParams = []string{"token"}
			}),
		},
		RequirementMap: map[string]*jwtv3.JwtRequirement{
			"a":            req("a"),
			"a-or-b":       {RequiresType: &jwtv3.JwtRequirement_RequiresAny{RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: []*jwtv3.JwtRequirement{req("a"), req("b")}}}},
			"a-or-missing": {RequiresType: &jwtv3.JwtRequirement_RequiresAny{RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: []*jwtv3.JwtRequirement{req("a"), {RequiresType: &jwtv3.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}}}}}},
			"anything":     {RequiresType: &jwtv3.JwtRequirement_AllowMissingOrFailed{AllowMissingOrFailed: &emptypb.Empty{}}},
		},
		Rules: []*jwtv3.RequirementRule{{
			Match:           &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/ruled/"}},
			RequirementType: &jwtv3.RequirementRule_RequirementName{RequirementName: "a"},
		}},
		BypassCorsPreflight: true,
	}
	f, err := jwt.New(cfg, jwt.NewKeys(nil))
	if err != nil {
		t.Fatal(err)
	}
	tokA, tokB := a.token(t, "iss-a"), b.token(t, "iss-b")
	tests := []struct {
		name, path, auth, query string
		per                     *jwtv3.PerRouteConfig
		want                    string // "" = pass
		header                  string // x-claims afterwards
		authAfter               bool
	}{
		{name: "provider a, valid", auth: "Bearer " + tokA, per: named("a"), header: strings.Split(tokA, ".")[1]},
		{name: "provider a, token of b", auth: "Bearer " + tokB, per: named("a"), want: "Jwt issuer is not configured"},
		{name: "provider a, missing", per: named("a"), want: "Jwt is missing"},
		{name: "any: b from the query, forwarded and padded", query: "?token=" + tokB, per: named("a-or-b"), header: pad(strings.Split(tokB, ".")[1])},
		{name: "any: none", per: named("a-or-b"), want: "Jwt is missing"},
		{name: "allow missing: none", per: named("a-or-missing")},
		{name: "allow missing: bad token refused", auth: "Bearer " + tokA[:len(tokA)-4] + "AAAA", per: named("a-or-missing"), want: "Jwt verification fails"},
		{name: "allow missing or failed: bad token passes", auth: "Bearer x.y.z", per: named("anything")},
		{name: "disabled", per: &jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_Disabled{Disabled: true}}},
		{name: "unknown requirement fails closed", per: named("nope"), want: "not configured"},
		{name: "rule", path: "/ruled/x", want: "Jwt is missing"},
		{name: "no rule, no requirement", path: "/free", auth: "Bearer junk", authAfter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/p"
			}
			r := httptest.NewRequest(http.MethodPost, "https://edge"+path+tt.query, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			failure := f.Check(r, tt.per)
			got := ""
			if failure != nil {
				got = failure.Message
			}
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if h := r.Header.Get("X-Claims"); h != tt.header {
				t.Errorf("x-claims %q, want %q", h, tt.header)
			}
			if tt.want == "" && tt.header != "" && !strings.Contains(tt.name, "forwarded") && r.Header.Get("Authorization") != "" {
				t.Error("token forwarded though forward is false")
			}
			if tt.authAfter && r.Header.Get("Authorization") == "" {
				t.Error("a route without requirement must leave the token alone")
			}
		})
	}
	preflight := httptest.NewRequest(http.MethodOptions, "https://edge/ruled/x", nil)
	preflight.Header.Set("Origin", "https://shop.example")
	preflight.Header.Set("Access-Control-Request-Method", "POST")
	if failure := f.Check(preflight, nil); failure != nil {
		t.Errorf("CORS preflight with bypass_cors_preflight: %v", failure)
	}
}

func pad(s string) string {
	return s + strings.Repeat("=", (4-len(s)%4)%4)
}

func TestUnsupportedProvidersAreRejected(t *testing.T) {
	t.Parallel()
	k := newKeys(t, "a")
	for name, mutate := range map[string]func(*jwtv3.JwtProvider){
		"claim_to_headers": func(p *jwtv3.JwtProvider) {
			p.ClaimToHeaders = []*jwtv3.JwtClaimToHeader{{HeaderName: "x", ClaimName: "sub"}}
		},
		"no keys": func(p *jwtv3.JwtProvider) { p.JwksSourceSpecifier = nil },
		"bad inline keys": func(p *jwtv3.JwtProvider) {
			p.JwksSourceSpecifier = &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "{}"}}}
		},
	} {
		_, err := jwt.New(&jwtv3.JwtAuthentication{Providers: map[string]*jwtv3.JwtProvider{"a": provider("i", k.jwks, mutate)}}, jwt.NewKeys(nil))
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
