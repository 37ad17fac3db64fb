package order

import (
	"errors"
	"math/bits"

	"github.com/google/uuid"
)

// Errors of the orders domain.
var (
	// ErrNotFound: no such order.
	ErrNotFound = errors.New("order not found")
	// ErrKeyReused: the idempotency key names an order placed with another request.
	ErrKeyReused = errors.New("idempotency key already used with a different request")
	// ErrNotCancelable: a rejected order has nothing to cancel.
	ErrNotCancelable = errors.New("a rejected order cannot be canceled")
	// ErrStillPending: the order's saga has not settled yet.
	ErrStillPending = errors.New("the order is still being placed")
	// ErrLeaseLost: another process drives the saga now; this one must stop.
	ErrLeaseLost = errors.New("saga lease lost")
)

// The transitions below return the order as it is after a saga step; the saga persists each
// one before taking the next step.

// CustomerChecked: the customer exists and may order. An order placed with the customer's own
// access token is created at this step (Request.CustomerProven): customers issues tokens only
// to existing, active customers, and every service refuses the tokens of a customer deactivated
// since (kit deactivation), before any handler runs.
func (o Order) CustomerChecked() Order {
	o.Step = StepCustomerChecked
	return o
}

// Price sets each line's unit price and the total. Prices in more than one currency, or a
// total that does not fit, reject the order.
func (o Order) Price(prices map[uuid.UUID]Money) Order {
	o.Items = append([]Item(nil), o.Items...)
	total := Money{}
	for i, it := range o.Items {
		p := prices[it.ProductID]
		if total.Currency != "" && p.Currency != total.Currency {
			return o.Reject(ReasonCurrencyMismatch, false)
		}
		total.Currency = p.Currency
		o.Items[i].UnitPrice = p.Amount
		line, ok := mul(p.Amount, it.Quantity)
		if total.Amount, ok = add(total.Amount, line, ok); !ok {
			return o.Reject(ReasonInternal, false)
		}
	}
	o.Total = &total
	o.Step = StepPriced
	return o
}

func mul(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return int64(lo), a >= 0 && b >= 0 && hi == 0 && lo <= 1<<63-1
}

func add(a, b int64, ok bool) (int64, bool) {
	s := a + b
	return s, ok && s >= a
}

// Reserved: the order's stock is held.
func (o Order) Reserved() Order {
	o.Step = StepStockReserved
	return o
}

// ReservedAt: the order's stock is held at prices, the unit prices the reservation was made
// at, which price the order (see Price). Prices the order cannot take (more than one currency,
// a total that does not fit) reject it, compensating first: the stock is held.
func (o Order) ReservedAt(prices map[uuid.UUID]Money) Order {
	priced := o.Price(prices)
	if priced.Step != StepPriced {
		return o.Reject(priced.Reason, true)
	}
	return priced.Reserved()
}

// Confirm: the payment is authorized; the order is placed.
func (o Order) Confirm(paymentID uuid.UUID) Order {
	o.PaymentID = &paymentID
	o.Status = StatusConfirmed
	o.Step = StepConfirmed
	return o
}

// MayHold reports whether the saga may hold stock or a payment for the order: a reservation is
// attempted from the customer-checked step on (priced, for orders a former version priced
// apart from the reservation), and a call that timed out may have happened.
func (o Order) MayHold() bool {
	switch o.Step {
	case StepCustomerChecked, StepPriced, StepStockReserved, StepConfirmed, StepCompensating:
		return true
	}
	return false
}

// Reject decides that the order cannot go through, for reason. When the saga may hold
// something (holds), the order first compensates; otherwise it is rejected at once.
func (o Order) Reject(reason Reason, holds bool) Order {
	o.Reason = reason
	if holds {
		o.Step = StepCompensating
		return o
	}
	o.Status = StatusRejected
	o.Step = StepDone
	return o
}

// Cancel starts the cancellation of a confirmed order for reason: it compensates, then ends
// canceled. A canceled order (or one already compensating for its cancellation) is returned as
// it is, keeping the first reason.
func (o Order) Cancel(reason string) (Order, error) {
	switch {
	case o.Status == StatusCanceled || (o.Status == StatusConfirmed && o.Step == StepCompensating):
		return o, nil
	case o.Status == StatusRejected:
		return o, ErrNotCancelable
	case o.Status == StatusPending:
		return o, ErrStillPending
	}
	o.Step = StepCompensating
	o.CancelReason = reason
	return o, nil
}

// Compensated: stock and payment are released; a pending order ends rejected, a confirmed
// one (being canceled) ends canceled.
func (o Order) Compensated() Order {
	if o.Status == StatusConfirmed {
		o.Status = StatusCanceled
	} else {
		o.Status = StatusRejected
	}
	o.Step = StepDone
	return o
}
