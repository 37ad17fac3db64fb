// Package store keeps payments in the payments database through the ent client. Every write
// runs in a transaction with the outbox row of the event announcing it (PaymentAuthorized,
// PaymentDeclined, PaymentVoided), written only when the write changed something.
package store

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/google/uuid"

	ent "mercato.dev/ent/payments"
	entpayment "mercato.dev/ent/payments/payment"
	"mercato.dev/services/kit/outbox"
	"mercato.dev/services/payments/internal/payment"
)

// Store is the ent adapter of payment.Store.
type Store struct {
	client  *ent.Client
	dialect string
	notify  func()
	outbox  outbox.Inserter
}

var _ payment.Store = (*Store)(nil)

// Option tunes a Store.
type Option func(*Store)

// WithNotify has the store call notify after committing a transaction that wrote an outbox
// event: the outbox relay's Notify, so the event leaves at once rather than at the next poll.
func WithNotify(notify func()) Option {
	return func(s *Store) { s.notify = notify }
}

// New returns a store on client, whose database is of dialect (database.DB.Dialect).
func New(client *ent.Client, dialect string, opts ...Option) (*Store, error) {
	ins, err := outbox.NewInserter(dialect, "outbox_events")
	if err != nil {
		return nil, fmt.Errorf("payments store: %w", err)
	}
	s := &Store{client: client, dialect: dialect, notify: func() {}, outbox: ins}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Create inserts p unless its order has a payment, in which case it returns that payment,
// created false. It inserts first: the order_id unique index refuses a second payment for the
// order (a retry, or a concurrent call that committed first), the transaction rolls back, and
// the payment that is there is read. A first call, by far the most common, costs one statement
// less than looking first.
func (s *Store) Create(ctx context.Context, p payment.Payment) (payment.Payment, bool, error) {
	var (
		out     payment.Payment
		created bool
	)
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		row, err := s.insert(ctx, tx, p)
		if err != nil {
			return err
		}
		out, created = toPayment(row), true
		return s.announce(ctx, tx, out)
	})
	if created && err == nil {
		s.notify()
	}
	if isUnique(err) { // the order has its payment: a retry, or a concurrent call that won
		out, err = s.ByOrder(ctx, p.OrderID)
		created = false
	}
	if err != nil {
		return payment.Payment{}, false, fmt.Errorf("create payment of order %s: %w", p.OrderID, err)
	}
	return out, created, nil
}

// Void flips the order's payment from authorized to voided with a guarded update; any other
// status stays as it is. Only the call whose update changed the row announces PaymentVoided.
func (s *Store) Void(ctx context.Context, orderID uuid.UUID) (payment.Payment, error) {
	var (
		out    payment.Payment
		voided bool
	)
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		n, err := tx.Payment.Update().
			Where(entpayment.OrderID(orderID), entpayment.StatusEQ(entpayment.StatusAuthorized)).
			SetStatus(entpayment.StatusVoided).
			Save(ctx)
		if err != nil {
			return err
		}
		row, err := tx.Payment.Query().Where(entpayment.OrderID(orderID)).Only(ctx)
		if err != nil {
			return notFound(err)
		}
		out, voided = toPayment(row), n == 1
		if !voided {
			return nil
		}
		return s.announce(ctx, tx, out)
	})
	if err != nil {
		return payment.Payment{}, fmt.Errorf("void payment of order %s: %w", orderID, err)
	}
	if voided {
		s.notify()
	}
	return out, nil
}

// ByID returns one payment.
func (s *Store) ByID(ctx context.Context, id uuid.UUID) (payment.Payment, error) {
	row, err := s.client.Payment.Get(ctx, id)
	if err != nil {
		return payment.Payment{}, fmt.Errorf("payment %s: %w", id, notFound(err))
	}
	return toPayment(row), nil
}

// ByOrder returns the order's payment.
func (s *Store) ByOrder(ctx context.Context, orderID uuid.UUID) (payment.Payment, error) {
	row, err := s.client.Payment.Query().Where(entpayment.OrderID(orderID)).Only(ctx)
	if err != nil {
		return payment.Payment{}, fmt.Errorf("payment of order %s: %w", orderID, notFound(err))
	}
	return toPayment(row), nil
}

// inTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			_ = tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func notFound(err error) error {
	if ent.IsNotFound(err) {
		return payment.ErrNotFound
	}
	return err
}

// isUnique: err is a unique index's refusal, from ent or from a statement written by hand.
func isUnique(err error) bool {
	return sqlgraph.IsUniqueConstraintError(err)
}
