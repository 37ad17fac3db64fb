package service

import (
	"context"

	"mercato.dev/services/kit/deactivation"
)

// FollowDeactivations makes the server refuse, as unauthenticated, every call carrying the
// claims of a customer deactivated after the token was issued, following the CUSTOMERS stream
// in the background (see package deactivation). Call it from Setup.
func (rt *Runtime) FollowDeactivations() error {
	_, js, err := rt.Broker()
	if err != nil {
		return err
	}
	list := deactivation.NewList()
	rt.Server.RefuseClaims(list.Check)
	rt.Go(func(ctx context.Context) error { return deactivation.Follow(ctx, js, list, rt.Logger) })
	return nil
}
