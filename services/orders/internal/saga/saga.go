// Package saga places and cancels orders: the orchestrated saga that checks the customer
// (unless the customer's token proved it), reserves stock at the prices the reservation
// answers, authorizes the payment and confirms the order — or
// compensates what it holds and rejects it — persisted step by step so that a crash resumes
// where it stopped. A saga is driven by one process at a time, the one holding its lease; a
// recovery loop takes over sagas whose lease expired.
//
// Dependencies are small interfaces declared here (Customers, Inventory, Payments, Store) and
// implemented by the clients and store packages.
package saga

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
)

// Store keeps orders and their saga state. Every write of a saga step is guarded by the lease:
// it happens only while owner holds the order.
type Store interface {
	// Create inserts a new order (with its lease already taken); ErrDuplicate when the
	// customer already used the idempotency key.
	Create(ctx context.Context, o order.Order) error
	Get(ctx context.Context, id uuid.UUID) (order.Order, error)
	GetByKey(ctx context.Context, customerID uuid.UUID, key string) (order.Order, error)
	// Claim takes the order's lease when it is free or expired at now, and returns the order
	// as it is then; false when another process holds it.
	Claim(ctx context.Context, id uuid.UUID, lease order.Lease, now time.Time) (order.Order, bool, error)
	// Renew extends a lease lease.Owner holds; false when it lost it.
	Renew(ctx context.Context, id uuid.UUID, lease order.Lease) (bool, error)
	// Release gives the lease up, recording attempts; nobody may claim it before retryAt
	// (zero: at once).
	Release(ctx context.Context, id uuid.UUID, owner string, attempts int, retryAt time.Time) error
	// Advance persists o, which moved on from step from, in one transaction; it releases the
	// lease when o is settled. order.ErrLeaseLost when owner no longer holds the order or it
	// is no longer at from.
	Advance(ctx context.Context, owner string, from order.Step, o order.Order) error
	// Unfinished lists up to limit orders whose saga is not settled and whose lease is free
	// at now, oldest first.
	Unfinished(ctx context.Context, now time.Time, limit int) ([]uuid.UUID, error)
}

// ErrDuplicate is Store.Create's answer when (customer, idempotency key) exists.
var ErrDuplicate = errors.New("idempotency key already used")

// Customers tells whether a customer may order.
type Customers interface {
	// CheckCustomer returns nil for an active customer, ErrCustomerNotFound or
	// ErrCustomerInactive.
	CheckCustomer(ctx context.Context, customerID uuid.UUID) error
}

// Inventory holds stock for orders, at prices.
type Inventory interface {
	// Reserve holds every line's stock for the order, or none (ErrOutOfStock, as an
	// *OutOfStockError, or ErrProductNotFound), and returns the unit price of each product as
	// the reservation stored it (read in the transaction that reserved). Reserving again for
	// the order moves no stock and returns the stored prices.
	Reserve(ctx context.Context, orderID uuid.UUID, items []order.Item) (map[uuid.UUID]order.Money, error)
	// Release returns the order's stock; an order holding none is released already.
	Release(ctx context.Context, orderID uuid.UUID) error
}

// Payments authorizes and voids order payments.
type Payments interface {
	// Authorize returns the authorized payment's ID, or ErrDeclined. Authorizing again for
	// the order returns the first decision.
	Authorize(ctx context.Context, p Payment) (uuid.UUID, error)
	// Void cancels the order's payment; an order with no payment is voided already.
	Void(ctx context.Context, orderID uuid.UUID) error
}

// Payment is what the saga asks payments to authorize.
type Payment struct {
	OrderID    uuid.UUID
	CustomerID uuid.UUID
	Amount     order.Money
	Method     string
}

// Business outcomes of dependencies; the adapters return them (wrapped) for the answers the
// contracts define. ErrUnavailable marks failures that are no outcome at all (the dependency
// is down, slow or overloaded): the saga keeps its step and tries again later.
var (
	ErrCustomerNotFound = errors.New("customer not found")
	ErrCustomerInactive = errors.New("customer inactive")
	ErrProductNotFound  = errors.New("product not found")
	ErrOutOfStock       = errors.New("out of stock")
	ErrDeclined         = errors.New("payment declined")
	ErrUnavailable      = errors.New("dependency unavailable")
)

// OutOfStockError says which products were short.
type OutOfStockError struct {
	Short []Shortage
}

// Shortage is one product that did not have enough stock.
type Shortage struct {
	ProductID            uuid.UUID
	Requested, Available int64
}

func (e *OutOfStockError) Error() string { return ErrOutOfStock.Error() }

// Is makes errors.Is(err, ErrOutOfStock) true.
func (e *OutOfStockError) Is(target error) bool { return target == ErrOutOfStock }

// Saga runs order sagas. Create it with New; it is safe for concurrent use.
type Saga struct {
	store     Store
	customers Customers
	inventory Inventory
	payments  Payments
	opts      Options
	log       *slog.Logger
	metrics   *metrics

	waiters waiters

	stop    context.Context // ends at Close: background drives wind down
	stopNow context.CancelFunc
	running sync.WaitGroup
}

// New returns a saga runner. Zero options take their defaults.
func New(store Store, c Customers, i Inventory, p Payments, opts Options) *Saga {
	opts.setDefaults()
	stop, cancel := context.WithCancel(context.Background())
	return &Saga{
		store: store, customers: c, inventory: i, payments: p, opts: opts, log: opts.Logger,
		metrics: newMetrics(opts.Registerer),
		waiters: waiters{m: map[uuid.UUID]*waiting{}},
		stop:    stop, stopNow: cancel,
	}
}

// Owner is this process's lease owner name.
func (s *Saga) Owner() string { return s.opts.Owner }

// Close stops the sagas this process is driving (each gives its lease back so that another
// process resumes it) and waits for them, at most timeout.
func (s *Saga) Close(timeout time.Duration) error {
	s.stopNow()
	done := make(chan struct{})
	go func() { s.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return errors.New("saga: drives still running at shutdown; their leases will expire")
	}
}

func (s *Saga) now() time.Time { return order.Now(s.opts.Clock()) }

func (s *Saga) lease(now time.Time) order.Lease {
	return order.Lease{Owner: s.opts.Owner, ExpiresAt: now.Add(s.opts.LeaseTTL)}
}

// NewOwner is a random lease owner name for this process instance.
func NewOwner(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
