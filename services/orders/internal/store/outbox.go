package store

import (
	"context"
	"fmt"

	"mercato.dev/ent/orders"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/orderevents"
)

// announce writes, in tx, the outbox row of the event o announces having moved on from step
// from, if any, and reports whether it wrote one.
func (s *Store) announce(ctx context.Context, tx *orders.Tx, from order.Step, o order.Order) (bool, error) {
	ev, ok, err := orderevents.For(ctx, from, o)
	if err != nil || !ok {
		return false, err
	}
	if err := s.outbox.Insert(ctx, tx, ev); err != nil {
		return false, fmt.Errorf("write %s event of order %s: %w", ev.Subject, o.ID, err)
	}
	return true, nil
}
