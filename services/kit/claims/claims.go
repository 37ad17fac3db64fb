// Package claims carries the end user's verified JWT claims from the edge to the owning service.
// The edge strips any inbound x-mercato-claims header and, for a request with a valid token, sets
// it to the token's payload (base64url JSON). Services believe it only from the edge's SPIFFE ID.
package claims

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"

	"connectrpc.com/connect"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/identity"
)

// Header is the request header in which the edge forwards verified claims.
const Header = "X-Mercato-Claims"

// Roles of the JWT contract.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// Claims are the parts of the end-user token that services act on.
type Claims struct {
	Subject   string   `json:"sub"` // the customer ID
	Roles     []string `json:"roles"`
	ExpiresAt int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
}

// IsAdmin reports whether the user holds the admin role.
func (c Claims) IsAdmin() bool { return slices.Contains(c.Roles, RoleAdmin) }

// CanActFor reports whether the user may act on the customer's resources: the owner or an admin.
func (c Claims) CanActFor(customerID string) bool {
	return c.IsAdmin() || (c.Subject != "" && strings.EqualFold(c.Subject, customerID))
}

// Encode returns the header value for c, as the edge writes it.
func Encode(c Claims) string {
	b, _ := json.Marshal(c) // a struct of strings and ints always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode parses a header value written by the edge.
func Decode(v string) (Claims, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
	if err != nil {
		return Claims{}, fmt.Errorf("decode claims header: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return Claims{}, fmt.Errorf("parse claims header: %w", err)
	}
	return c, nil
}

type key struct{}

// From returns the end user's claims for the current call, if the edge forwarded any.
func From(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(key{}).(Claims)
	return c, ok
}

// With returns ctx carrying c (for tests and for the edge's own use).
func With(ctx context.Context, c Claims) context.Context { return context.WithValue(ctx, key{}, c) }

// ClientAddressHeader carries the end user's IP address. The edge strips any inbound copy and
// sets it to the downstream address, so, like the claims, it is believed only from the edge.
const ClientAddressHeader = "X-Mercato-Client-Address"

type clientKey struct{}

// ClientAddress returns the end user's IP address for the current call, if the edge sent one.
func ClientAddress(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(clientKey{}).(netip.Addr)
	return a, ok
}

// WithClientAddress returns ctx carrying a (for tests).
func WithClientAddress(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, clientKey{}, a)
}

// Middleware moves the claims and client address headers into the request context when, and
// only when, the authenticated caller is trusted to forward them (the edge). From anyone else
// the headers are dropped, so a service can never be talked into trusting claims a workload
// made up.
func Middleware(trusted spiffeid.ID, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(Header)
		r.Header.Del(Header)
		addr := r.Header.Get(ClientAddressHeader)
		r.Header.Del(ClientAddressHeader)
		caller, ok := identity.Caller(r.Context())
		if ok && caller == trusted {
			if a, err := netip.ParseAddr(addr); err == nil {
				r = r.WithContext(WithClientAddress(r.Context(), a.Unmap()))
			}
		}
		if v == "" || !ok || caller != trusted {
			next.ServeHTTP(w, r)
			return
		}
		c, err := Decode(v)
		if err != nil {
			next.ServeHTTP(w, r) // malformed claims are no claims: owner checks then refuse
			return
		}
		next.ServeHTTP(w, r.WithContext(With(r.Context(), c)))
	})
}

// Refuse answers unauthenticated, before any handler runs, a call whose end-user claims check
// refuses (a deactivated customer's token, say); calls without claims pass. It goes inside
// [Middleware], which puts the claims in the context. check may be nil: nothing is refused.
func Refuse(check func(Claims) error, next http.Handler) http.Handler {
	if check == nil {
		return next
	}
	errw := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := From(r.Context()); ok {
			if err := check(c); err != nil {
				_ = errw.Write(w, r, connect.NewError(connect.CodeUnauthenticated, err))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
