package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Errors of the payment rules. Stores return them (wrapped); handlers map them to codes.
var (
	ErrNotFound = errors.New("payment not found")
	// ErrOtherRequest refuses an authorization for an order that already has a payment of
	// another amount or customer.
	ErrOtherRequest = errors.New("order already has a payment with another amount or customer")
)

// Store keeps payments, at most one per order.
type Store interface {
	// Create stores p unless its order already has a payment; then it changes nothing and
	// returns that payment with created false (also when a concurrent Create won the race).
	Create(ctx context.Context, p Payment) (stored Payment, created bool, err error)
	// Void turns the order's authorized payment voided and returns it; a declined or voided
	// payment is returned unchanged. ErrNotFound when the order has none.
	Void(ctx context.Context, orderID uuid.UUID) (Payment, error)
	ByID(ctx context.Context, id uuid.UUID) (Payment, error)         // ErrNotFound
	ByOrder(ctx context.Context, orderID uuid.UUID) (Payment, error) // ErrNotFound
}

// Payments is the payments service's use cases.
type Payments struct {
	store Store
	newID func() uuid.UUID
}

// New returns the use cases on store.
func New(store Store) *Payments { return &Payments{store: store, newID: newV7} }

// newV7 is a time-ordered payment ID: appended to the index (see ent/internal/ids).
func newV7() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Authorize decides the order's payment once: a later call for the same order returns the
// first payment, whatever its status, and one with another amount or customer is refused.
func (ps *Payments) Authorize(ctx context.Context, req Request) (Payment, error) {
	status, reason := Decide(req.Method, req.Amount)
	p, created, err := ps.store.Create(ctx, Payment{
		ID: ps.newID(), OrderID: req.OrderID, CustomerID: req.CustomerID, Amount: req.Amount,
		Method: req.Method, Status: status, DeclineReason: reason,
	})
	if err != nil {
		return Payment{}, err
	}
	if !created && !p.Answers(req) {
		return Payment{}, fmt.Errorf("authorize order %s: %w", req.OrderID, ErrOtherRequest)
	}
	return p, nil
}

// Void cancels the order's authorization; voiding again, or voiding a declined payment,
// returns it as it is.
func (ps *Payments) Void(ctx context.Context, orderID uuid.UUID) (Payment, error) {
	return ps.store.Void(ctx, orderID)
}

// ByID returns one payment.
func (ps *Payments) ByID(ctx context.Context, id uuid.UUID) (Payment, error) {
	return ps.store.ByID(ctx, id)
}

// ByOrder returns the order's payment.
func (ps *Payments) ByOrder(ctx context.Context, orderID uuid.UUID) (Payment, error) {
	return ps.store.ByOrder(ctx, orderID)
}
