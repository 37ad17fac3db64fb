package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/payments/internal/payment"
)

func errNotYours() error {
	return connect.NewError(connect.CodePermissionDenied, errors.New("only the paying customer or an admin may read this payment"))
}

// mayReadPayments refuses, before any lookup, an edge call that carries no end-user claims.
func mayReadPayments(ctx context.Context) error {
	caller, _ := identity.Caller(ctx)
	if _, ok := claims.From(ctx); caller == identity.Edge && !ok {
		return errNotYours()
	}
	return nil
}

// mayRead lets the orders service read any payment, and the edge only the payments of the
// customer whose claims it forwards, or any payment for an admin. Another customer's payment
// is answered as a missing one.
func mayRead(ctx context.Context, p payment.Payment) error {
	return claims.RequireOwner(ctx, p.CustomerID.String(), errNotFound(), identity.Service("orders"))
}
