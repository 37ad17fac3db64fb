package claims_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	in := claims.Claims{Subject: "0193f1c2-0000-7000-8000-000000000001", Roles: []string{claims.RoleCustomer, claims.RoleAdmin}, ExpiresAt: 1900000000}
	out, err := claims.Decode(claims.Encode(in))
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != in.Subject || len(out.Roles) != 2 || out.ExpiresAt != in.ExpiresAt {
		t.Errorf("round trip: %+v", out)
	}
	// Envoy's jwt_authn forward_payload_header writes base64url without padding; padded also parses.
	if _, err := claims.Decode("eyJzdWIiOiJ4In0="); err != nil {
		t.Errorf("padded payload: %v", err)
	}
	for _, bad := range []string{"%%%", "bm90IGpzb24"} {
		if _, err := claims.Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

func TestCanActFor(t *testing.T) {
	t.Parallel()
	owner := claims.Claims{Subject: "c1", Roles: []string{claims.RoleCustomer}}
	admin := claims.Claims{Subject: "a1", Roles: []string{claims.RoleCustomer, claims.RoleAdmin}}
	tests := []struct {
		name string
		c    claims.Claims
		id   string
		want bool
	}{
		{"owner", owner, "c1", true},
		{"another customer", owner, "c2", false},
		{"admin for anyone", admin, "c2", true},
		{"no subject never owns the empty id", claims.Claims{}, "", false},
	}
	for _, tt := range tests {
		if got := tt.c.CanActFor(tt.id); got != tt.want {
			t.Errorf("%s: CanActFor(%q) = %v", tt.name, tt.id, got)
		}
	}
}

func TestMiddlewareBelievesOnlyTheTrustedCaller(t *testing.T) {
	t.Parallel()
	header := claims.Encode(claims.Claims{Subject: "c1"})
	tests := []struct {
		name    string
		caller  *identityCaller
		header  string
		wantSub string
	}{
		{"edge with claims", &identityCaller{identity.Edge}, header, "c1"},
		{"service forging claims", &identityCaller{identity.Service("orders")}, header, ""},
		{"no authenticated caller", nil, header, ""},
		{"edge with garbage", &identityCaller{identity.Edge}, "%%%", ""},
	}
	for _, tt := range tests {
		var got string
		var leaked bool
		h := claims.Middleware(identity.Edge, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			c, _ := claims.From(r.Context())
			got = c.Subject
			leaked = r.Header.Get(claims.Header) != ""
		}))
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		r.Header.Set(claims.Header, tt.header)
		if tt.caller != nil {
			r = r.WithContext(identity.WithCaller(r.Context(), tt.caller.id))
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tt.wantSub || leaked {
			t.Errorf("%s: subject %q (want %q), header still visible to the handler: %v", tt.name, got, tt.wantSub, leaked)
		}
	}
}

type identityCaller struct{ id spiffeid.ID }
