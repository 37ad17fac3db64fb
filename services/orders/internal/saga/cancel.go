package saga

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
)

// ErrCanceling: the cancellation is under way and did not finish before the call's deadline;
// it carries on, and a retry answers the canceled order.
var ErrCanceling = errors.New("the cancellation is under way")

// Cancel cancels a confirmed order: its saga compensates (voids the payment, releases the
// stock) and the order ends CANCELED. A canceled order is answered as it is, and a rejected one
// is order.ErrNotCancelable. A pending order is waited for (within ctx) and canceled once it is
// confirmed, or order.ErrStillPending when it does not settle in time.
func (s *Saga) Cancel(ctx context.Context, id uuid.UUID, reason string) (order.Order, error) {
	by := answerBy(ctx, s.opts.RunTimeout)
	o, err := s.store.Get(ctx, id)
	for err == nil {
		switch {
		case o.Status == order.StatusPending:
			if o, err = s.await(ctx, o, placed); err == nil && !placed(o) {
				return o, order.ErrStillPending
			}
		case o.Status != order.StatusConfirmed:
			_, err = o.Cancel(reason) // nil for a canceled order, ErrNotCancelable for a rejected one
			return o, err
		case time.Now().After(by):
			return o, ErrCanceling
		case o.Step == order.StepConfirmed:
			var ok bool
			if o, ok, err = s.beginCancel(ctx, o, reason); err == nil && !ok { // another process holds it
				o, err = s.await(ctx, o, func(o order.Order) bool { return o.Step != order.StepConfirmed || o.Lease.Free(s.now()) })
			}
		default: // compensating for the cancellation, here or elsewhere
			if o, err = s.await(ctx, o, order.Order.Settled); err == nil && !o.Settled() {
				return o, ErrCanceling
			}
		}
	}
	return o, err
}

// beginCancel takes the lease of a confirmed order, persists the start of its compensation and
// drives it in the background; false when another process holds the lease.
func (s *Saga) beginCancel(ctx context.Context, o order.Order, reason string) (order.Order, bool, error) {
	now := s.now()
	claimed, ok, err := s.store.Claim(ctx, o.ID, s.lease(now), now)
	if err != nil || !ok {
		return o, false, err
	}
	if claimed.Step != order.StepConfirmed { // changed meanwhile: canceled, or compensating
		s.start(ctx, claimed)
		return claimed, true, nil
	}
	next, err := claimed.Cancel(reason)
	if err == nil {
		err = s.store.Advance(ctx, s.opts.Owner, claimed.Step, next)
	}
	if err != nil {
		s.release(ctx, claimed, claimed.Attempts, time.Time{})
		return claimed, true, err
	}
	s.start(ctx, next)
	return next, true, nil
}
