package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"mercato.dev/edge/internal/jwt"
)

// FuzzCheck sends arbitrary Authorization headers and token query parameters to a route that
// requires provider "a": only the one token signed with a's key may pass, and nothing panics.
// The seeds include that token, its forgeries (alg none, another key under a's kid, a cut
// signature) and malformed shapes.
func FuzzCheck(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "a", Algorithm: "ES256"}}})
	good := sign(f, key, "a", time.Now().Add(time.Hour))
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := &jwtv3.JwtAuthentication{
		Providers: map[string]*jwtv3.JwtProvider{"a": provider("iss-a", string(jwks), func(p *jwtv3.JwtProvider) {
			p.FromParams = []string{"token"}
		})},
		RequirementMap: map[string]*jwtv3.JwtRequirement{"a": req("a")},
	}
	filter, err := jwt.New(cfg, jwt.NewKeys(nil))
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	f.Add("Bearer "+good, "")
	f.Add("", good)
	f.Add("Bearer "+sign(f, other, "a", time.Now().Add(time.Hour)), "")
	f.Add("Bearer "+sign(f, key, "a", time.Now().Add(-time.Hour)), "")
	f.Add("Bearer "+parts[0]+"."+parts[1]+".", "")
	f.Add("Bearer eyJhbGciOiJub25lIiwia2lkIjoiYSJ9."+parts[1]+".", "")
	f.Add("Bearer a.b.c.d.e", "x")
	f.Add("bearer", "..")
	f.Fuzz(func(t *testing.T, auth, token string) {
		r := httptest.NewRequest(http.MethodPost, "https://edge/p?token="+url.QueryEscape(token), nil)
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		if filter.Check(r, named("a")) == nil && !strings.Contains(auth+" "+token, parts[0]+"."+parts[1]+".") {
			t.Fatalf("passed without the signed token: Authorization %q, token %q", auth, token)
		}
	})
}

func sign(tb testing.TB, key *ecdsa.PrivateKey, kid string, exp time.Time) string {
	tb.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := josejwt.Signed(signer).Claims(josejwt.Claims{Issuer: "iss-a", Subject: "c1", Audience: josejwt.Audience{"mercato"},
		Expiry: josejwt.NewNumericDate(exp)}).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}
