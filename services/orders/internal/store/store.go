// Package store keeps orders in the orders service's own database (SQLite or PostgreSQL)
// through its ent client. It implements the saga's Store and the order reads of the API.
//
// The lease statements (claim, renew, release) are written with ent's dialect-aware SQL
// builder rather than the generated update builders, so that taking or renewing a lease does
// not touch update_time: the order did not change. The saga's two writes per order, Create and
// Advance, are statements written by hand (byhand.go: the statements ent writes, without its
// builders), one transaction per state change with the outbox event row (outbox.Inserter);
// the rest goes through ent.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"mercato.dev/ent/database"
	"mercato.dev/ent/orders"
	entorder "mercato.dev/ent/orders/order"
	"mercato.dev/ent/orders/orderitem"
	"mercato.dev/ent/orders/predicate"

	"mercato.dev/services/kit/outbox"
	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

// Store is the ent adapter of the orders database.
type Store struct {
	c       *orders.Client
	dialect string
	notify  func()
	outbox  outbox.Inserter
}

var _ saga.Store = (*Store)(nil)

// Option tunes a Store.
type Option func(*Store)

// WithNotify has the store call notify after committing a transaction that wrote an outbox
// event: the outbox relay's Notify, so the event leaves at once rather than at the next poll.
func WithNotify(notify func()) Option {
	return func(s *Store) { s.notify = notify }
}

// New returns a store on db, an open and migrated orders database.
func New(db *database.DB, opts ...Option) *Store {
	ins, err := outbox.NewInserter(db.Dialect(), "outbox_events")
	if err != nil {
		panic("orders store: " + err.Error()) // database.Open opens SQLite or PostgreSQL only
	}
	s := &Store{c: orders.NewClient(orders.Driver(db.Driver())), dialect: db.Dialect(), notify: func() {}, outbox: ins}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Create inserts the order and its lines in one transaction.
func (s *Store) Create(ctx context.Context, o order.Order) error {
	return s.inTx(ctx, func(tx *orders.Tx) error { return s.createByHand(ctx, tx, o) })
}

// Get returns the order with its lines, or order.ErrNotFound.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (order.Order, error) {
	return s.one(ctx, entorder.ID(id))
}

// GetByKey returns the customer's order placed under key, or order.ErrNotFound.
func (s *Store) GetByKey(ctx context.Context, customerID uuid.UUID, key string) (order.Order, error) {
	return s.one(ctx, entorder.CustomerID(customerID), entorder.IdempotencyKey(key))
}

func (s *Store) one(ctx context.Context, where ...predicate.Order) (order.Order, error) {
	row, err := s.c.Order.Query().Where(where...).WithItems(byProduct).Only(ctx)
	if orders.IsNotFound(err) {
		return order.Order{}, order.ErrNotFound
	}
	if err != nil {
		return order.Order{}, fmt.Errorf("get order: %w", err)
	}
	return toOrder(row), nil
}

// Advance persists o's state, guarded by the lease and the step it moved on from. When the move
// announces an event (the order confirmed, rejected or canceled) the event's outbox row is
// written in the same transaction, and only if the guarded update changed the order: a step
// persisted twice is refused (order.ErrLeaseLost) and announces nothing the second time.
func (s *Store) Advance(ctx context.Context, owner string, from order.Step, o order.Order) error {
	announced := false
	err := s.inTx(ctx, func(tx *orders.Tx) error {
		changed, err := s.advanceByHand(ctx, tx, owner, from, o)
		if err != nil {
			return fmt.Errorf("advance order %s to %s: %w", o.ID, o.Step, err)
		}
		if !changed {
			return order.ErrLeaseLost
		}
		if o.Priced() && pricedNow(from) {
			if err := s.priceItemsByHand(ctx, tx, o); err != nil {
				return err
			}
		}
		announced, err = s.announce(ctx, tx, from, o)
		return err
	})
	if err == nil && announced {
		s.notify()
	}
	return err
}

// updateTime is when o changed: as the saga stamped it, or now.
func updateTime(o order.Order) time.Time {
	if o.UpdateTime.After(o.CreateTime) {
		return o.UpdateTime
	}
	return order.Now(time.Now())
}

// pricedNow: an order that moves on from step from with prices was priced by this move (the
// saga prices the order from its reservation, in memory; the step after is the first to be
// stored priced). From priced, an order a former version priced is priced again from its
// reservation.
func pricedNow(from order.Step) bool {
	switch from {
	case order.StepCreated, order.StepCustomerChecked, order.StepPriced:
		return true
	}
	return false
}

// Unfinished lists orders whose saga is unsettled and whose lease is free at now, oldest first.
func (s *Store) Unfinished(ctx context.Context, now time.Time, limit int) ([]uuid.UUID, error) {
	ids, err := s.c.Order.Query().
		Where(
			entorder.Or(entorder.StatusEQ(entorder.StatusPending), entorder.SagaStepEQ(entorder.SagaStepCompensating)),
			entorder.Or(entorder.LeaseExpiresAtIsNil(), entorder.LeaseExpiresAtLT(order.Now(now))),
		).
		Order(entorder.ByCreateTime()).Limit(limit).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list unfinished orders: %w", err)
	}
	return ids, nil
}

func (s *Store) inTx(ctx context.Context, fn func(*orders.Tx) error) error {
	tx, err := s.c.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func rollback(tx *orders.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// byProduct loads an order's lines in a stable order.
func byProduct(q *orders.OrderItemQuery) { q.Order(orderitem.ByProductID()) }

// unpriced is the currency of an order not priced yet: ISO 4217's "no currency" code, since
// the column is required.
const unpriced = "XXX"
