package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	ent "mercato.dev/ent/payments"
	"mercato.dev/services/payments/internal/payment"
	"mercato.dev/services/payments/internal/paymentevents"
)

// announce writes, in tx, the outbox row of the event announcing p's status.
func announce(ctx context.Context, tx *ent.Tx, p payment.Payment) error {
	ev, err := paymentevents.For(ctx, p)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(ev.ID)
	if err != nil {
		return fmt.Errorf("outbox event ID %q: %w", ev.ID, err)
	}
	err = tx.OutboxEvent.Create().
		SetID(id).SetSubject(ev.Subject).SetPayload(ev.Payload).
		SetHeaders(ev.Headers).SetCreateTime(ev.CreateTime).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("write %s event of payment %s: %w", ev.Subject, p.ID, err)
	}
	return nil
}
