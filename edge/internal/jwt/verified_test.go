package jwt_test

import (
	"net/http"
	"testing"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"

	"mercato.dev/edge/internal/jwt"
)

// A token verified once is accepted again from the cache, but the cache never accepts a token
// that differs from it in any byte (a forged signature after a real one) nor one whose key
// set is not the one it was verified with.
func TestVerifiedSignatureCache(t *testing.T) {
	t.Parallel()
	a := newKeys(t, "a")
	cfg := func(jwks string) *jwtv3.JwtAuthentication {
		return &jwtv3.JwtAuthentication{
			Providers:      map[string]*jwtv3.JwtProvider{"a": provider("iss-a", jwks, nil)},
			RequirementMap: map[string]*jwtv3.JwtRequirement{"a": req("a")},
		}
	}
	f, err := jwt.New(cfg(a.jwks), jwt.NewKeys(nil))
	if err != nil {
		t.Fatal(err)
	}
	check := func(f *jwt.Filter, tok string) *jwt.Failure {
		r, _ := http.NewRequest(http.MethodPost, "https://edge/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return f.Check(r, named("a"))
	}
	tok := a.token(t, "iss-a")
	for i := range 3 {
		if fail := check(f, tok); fail != nil {
			t.Fatalf("check %d of a valid token: %v", i, fail)
		}
	}
	forged := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[tok[len(tok)-2:] != "AA"]
	if fail := check(f, forged); fail == nil {
		t.Fatal("a token with another signature was accepted after the real one was cached")
	}
	// The same token against a filter whose provider has another key under the same kid.
	other := newKeys(t, "a")
	g, err := jwt.New(cfg(other.jwks), jwt.NewKeys(nil))
	if err != nil {
		t.Fatal(err)
	}
	if fail := check(g, tok); fail == nil {
		t.Fatal("a token signed by a key no longer in the set was accepted")
	}
}
