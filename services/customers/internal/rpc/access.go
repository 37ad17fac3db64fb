package rpc

import (
	"context"
	"errors"
	"slices"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
)

var errNotYours = connect.NewError(connect.CodePermissionDenied, errors.New("not allowed to act for this customer"))

// mayAccess enforces "edge (owner or admin)": a call from the edge must carry the end user's
// claims, and they must be the customer's own or an admin's. A call from one of services (which
// the authorization table already admitted) carries no user and is allowed as it is.
func mayAccess(ctx context.Context, customerID string, services ...spiffeid.ID) error {
	caller, _ := identity.Caller(ctx)
	if caller != identity.Edge {
		if slices.Contains(services, caller) {
			return nil
		}
		return errNotYours
	}
	c, ok := claims.From(ctx)
	if !ok || !c.CanActFor(customerID) {
		return errNotYours
	}
	return nil
}
