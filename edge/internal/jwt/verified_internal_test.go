package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// A cached token skips the signature check and its decoding, never the checks of time: once
// its expiry (plus the clock skew) has passed, the same token is refused, cached or not.
func TestCachedTokenStillExpires(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: "a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "a", Algorithm: "ES256"}}})
	start := time.Now()
	tok, err := josejwt.Signed(signer).Claims(josejwt.Claims{Issuer: "iss-a", Audience: josejwt.Audience{"mercato"},
		Expiry: josejwt.NewNumericDate(start.Add(time.Minute))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(&jwtv3.JwtAuthentication{
		Providers: map[string]*jwtv3.JwtProvider{"a": {Issuer: "iss-a", Audiences: []string{"mercato"},
			JwksSourceSpecifier: &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(jwks)}}}}},
		RequirementMap: map[string]*jwtv3.JwtRequirement{"a": {RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "a"}}},
	}, NewKeys(nil))
	if err != nil {
		t.Fatal(err)
	}
	check := func() *Failure {
		r, _ := http.NewRequest(http.MethodPost, "https://edge/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return f.Check(r, &jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: "a"}})
	}
	f.now = func() time.Time { return start }
	for i := range 2 {
		if failure := check(); failure != nil {
			t.Fatalf("check %d of a valid token: %v", i, failure)
		}
	}
	if _, cached := f.providers["a"].verified.get(tok); !cached {
		t.Fatal("the verified token was not cached")
	}
	f.now = func() time.Time { return start.Add(3 * time.Minute) } // past expiry and the 60 s skew
	if failure := check(); failure == nil || failure.Message != "Jwt is expired" {
		t.Fatalf("cached token after its expiry: %v, want Jwt is expired", failure)
	}
}
