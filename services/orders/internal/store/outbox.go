package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"mercato.dev/ent/orders"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/orderevents"
)

// announce writes, in tx, the outbox row of the event o announces having moved on from step
// from, if any, and reports whether it wrote one.
func announce(ctx context.Context, tx *orders.Tx, from order.Step, o order.Order) (bool, error) {
	ev, ok, err := orderevents.For(ctx, from, o)
	if err != nil || !ok {
		return false, err
	}
	id, err := uuid.Parse(ev.ID)
	if err != nil {
		return false, fmt.Errorf("outbox event ID %q: %w", ev.ID, err)
	}
	err = tx.OutboxEvent.Create().
		SetID(id).SetSubject(ev.Subject).SetPayload(ev.Payload).
		SetHeaders(ev.Headers).SetCreateTime(ev.CreateTime).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("write %s event of order %s: %w", ev.Subject, o.ID, err)
	}
	return true, nil
}
