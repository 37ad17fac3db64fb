package claims_test

import (
	"context"
	"errors"

	"connectrpc.com/connect"
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

func TestClientAddressOnlyFromTheEdge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		caller spiffeid.ID
		value  string
		want   string
	}{
		{"edge", identity.Edge, "203.0.113.7", "203.0.113.7"},
		{"edge, IPv6", identity.Edge, "2001:db8::1", "2001:db8::1"},
		{"edge, IPv4 in IPv6", identity.Edge, "::ffff:203.0.113.7", "203.0.113.7"},
		{"edge, not an address", identity.Edge, "203.0.113.7, 10.0.0.1", ""},
		{"a service forging it", identity.Service("orders"), "203.0.113.7", ""},
	}
	for _, tt := range tests {
		var got string
		var leaked bool
		h := claims.Middleware(identity.Edge, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			if a, ok := claims.ClientAddress(r.Context()); ok {
				got = a.String()
			}
			leaked = r.Header.Get(claims.ClientAddressHeader) != ""
		}))
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		r.Header.Set(claims.ClientAddressHeader, tt.value)
		r = r.WithContext(identity.WithCaller(r.Context(), tt.caller))
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tt.want || leaked {
			t.Errorf("%s: client address %q (want %q), header still visible to the handler: %v", tt.name, got, tt.want, leaked)
		}
	}
}

func TestRequireOwnerAndAdmin(t *testing.T) {
	t.Parallel()
	orders := identity.Service("orders")
	ctxAs := func(caller spiffeid.ID, c *claims.Claims) context.Context {
		ctx := identity.WithCaller(context.Background(), caller)
		if c != nil {
			ctx = claims.With(ctx, *c)
		}
		return ctx
	}
	owner := &claims.Claims{Subject: "c1", Roles: []string{claims.RoleCustomer}}
	admin := &claims.Claims{Subject: "a1", Roles: []string{claims.RoleAdmin}}
	missing := connect.NewError(connect.CodeNotFound, errors.New("thing not found"))
	denied := connect.CodePermissionDenied
	tests := []struct {
		name      string
		ctx       context.Context
		owner     connect.Code // RequireOwner("c1", missing, orders): ok when it passes
		adminOnly bool         // RequireAdmin passes
	}{
		{"edge with the owner's claims", ctxAs(identity.Edge, owner), 0, false},
		{"edge with an admin's claims", ctxAs(identity.Edge, admin), 0, true},
		{"edge with another customer's claims", ctxAs(identity.Edge, &claims.Claims{Subject: "c2"}), connect.CodeNotFound, false},
		{"edge without claims", ctxAs(identity.Edge, nil), denied, false},
		{"a listed service", ctxAs(orders, nil), 0, false},
		{"an unlisted service", ctxAs(identity.Service("payments"), nil), denied, false},
		{"a service carrying admin claims", ctxAs(orders, admin), 0, false},
	}
	for _, tt := range tests {
		err := claims.RequireOwner(tt.ctx, "c1", missing, orders)
		if got := connect.CodeOf(err); (err == nil) != (tt.owner == 0) || (err != nil && got != tt.owner) {
			t.Errorf("%s: RequireOwner = %v, want code %v", tt.name, err, tt.owner)
		}
		if tt.owner == connect.CodeNotFound && err != missing {
			t.Errorf("%s: RequireOwner = %v, want the service's own not_found", tt.name, err)
		}
		if err := claims.RequireAdmin(tt.ctx); (err == nil) != tt.adminOnly {
			t.Errorf("%s: RequireAdmin = %v", tt.name, err)
		}
	}
}
