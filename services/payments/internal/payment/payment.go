// Package payment is the payments domain: a deterministic stand-in for a card processor. It
// decides whether an order's payment is authorized or declined (a decline is an outcome, not an
// error), keeps at most one payment per order, and voids authorizations.
package payment

import (
	"time"

	"github.com/google/uuid"
)

// Money is an amount in the minor unit of a currency.
type Money struct {
	AmountMinor int64
	Currency    string // ISO 4217, upper case
}

// Status is where a payment is in its life.
type Status int

// Statuses of a payment.
const (
	Authorized Status = iota + 1 // the amount is held on the payment method
	Declined                     // refused; see DeclineReason
	Voided                       // a former authorization, canceled
)

// DeclineReason says why a payment was declined.
type DeclineReason int

// Decline reasons; NotDeclined unless the status is Declined.
const (
	NotDeclined DeclineReason = iota
	CardDeclined
	InsufficientFunds
	AmountTooLarge
)

// Request asks to authorize an order's amount.
type Request struct {
	OrderID    uuid.UUID
	CustomerID uuid.UUID
	Amount     Money
	Method     string // an opaque token such as "pm_card_visa"
}

// Payment is the payment of one order.
type Payment struct {
	ID            uuid.UUID
	OrderID       uuid.UUID
	CustomerID    uuid.UUID
	Amount        Money
	Method        string
	Status        Status
	DeclineReason DeclineReason
	CreateTime    time.Time
	UpdateTime    time.Time
}

// Answers reports whether p is the payment req asked for: same order, customer and amount.
func (p Payment) Answers(req Request) bool {
	return p.OrderID == req.OrderID && p.CustomerID == req.CustomerID && p.Amount == req.Amount
}
