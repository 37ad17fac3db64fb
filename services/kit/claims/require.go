package claims

import (
	"context"
	"errors"
	"slices"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/identity"
)

var (
	errNotYours = errors.New("not allowed to act for this customer")
	errNotAdmin = errors.New("admin role required")
)

// RequireOwner enforces the architecture's "edge (owner or admin)" rule for a resource owned by
// customerID: a call from the edge must carry the end user's claims, and they must be the
// customer's own or an admin's. A call from one of services (already admitted by the method's
// authorization rule) acts for no end user and passes. The edge without claims, or any other
// caller, is permission_denied. Another customer's claims get hidden, the error the service
// answers for a resource that does not exist (its not_found), so that a customer cannot tell
// another customer's resources from missing ones.
func RequireOwner(ctx context.Context, customerID string, hidden error, services ...spiffeid.ID) error {
	caller, _ := identity.Caller(ctx)
	if caller != identity.Edge {
		if slices.Contains(services, caller) {
			return nil
		}
		return connect.NewError(connect.CodePermissionDenied, errNotYours)
	}
	c, ok := From(ctx)
	if !ok {
		return connect.NewError(connect.CodePermissionDenied, errNotYours)
	}
	if !c.CanActFor(customerID) {
		return hidden
	}
	return nil
}

// RequireAdmin admits only the edge forwarding an admin's claims.
func RequireAdmin(ctx context.Context) error {
	caller, _ := identity.Caller(ctx)
	if c, ok := From(ctx); caller == identity.Edge && ok && c.IsAdmin() {
		return nil
	}
	return connect.NewError(connect.CodePermissionDenied, errNotAdmin)
}
