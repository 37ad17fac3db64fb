// Package order is the orders domain: an order, its lines and money, where it is in its life
// (status) and in its saga (step), why it was rejected, and the rules that move it from one
// state to the next. It knows nothing of transport or storage.
package order

import (
	"time"

	"github.com/google/uuid"
)

// Order is a customer's order and the state of the saga that carries it out.
type Order struct {
	ID             uuid.UUID
	CustomerID     uuid.UUID
	IdempotencyKey string
	RequestHash    string // see Request.Hash
	PaymentMethod  string // the request's payment method token, kept so a resumed saga can authorize
	CancelReason   string // why the owner or an admin canceled it
	Items          []Item
	Total          *Money // nil until priced
	Status         Status
	Reason         Reason // set once the saga decided to reject, even while compensating
	Step           Step
	PaymentID      *uuid.UUID // the authorized payment
	Attempts       int        // saga runs that ended on an unavailable dependency
	Lease          Lease
	CreateTime     time.Time
	UpdateTime     time.Time
}

// Item is one line of an order. UnitPrice is zero until the order is priced.
type Item struct {
	ProductID uuid.UUID
	Quantity  int64
	UnitPrice int64 // minor units of the order's currency
}

// LineTotal is UnitPrice times Quantity.
func (i Item) LineTotal() int64 { return i.UnitPrice * i.Quantity }

// Money is an amount in minor units of a currency.
type Money struct {
	Amount   int64
	Currency string
}

// Lease says which process drives the order's saga, until when. A zero Lease is free.
type Lease struct {
	Owner     string
	ExpiresAt time.Time
}

// Free reports whether another process may take the saga at now.
func (l Lease) Free(now time.Time) bool { return l.ExpiresAt.IsZero() || l.ExpiresAt.Before(now) }

// Status is where an order is in its life.
type Status string

// Statuses.
const (
	StatusPending   Status = "pending"
	StatusConfirmed Status = "confirmed"
	StatusRejected  Status = "rejected"
	StatusCanceled  Status = "canceled"
)

// Step is the last saga step the order completed.
type Step string

// Steps, in saga order. Compensating undoes what the saga holds (stock, payment) before the
// order ends rejected (status pending) or canceled (status confirmed). Confirmed and Done are
// final: nothing is left to drive.
const (
	StepCreated         Step = "created"
	StepCustomerChecked Step = "customer_checked"
	StepPriced          Step = "priced"
	StepStockReserved   Step = "stock_reserved"
	StepConfirmed       Step = "confirmed"
	StepCompensating    Step = "compensating"
	StepDone            Step = "done"
)

// Settled reports whether the saga has nothing left to do.
func (s Step) Settled() bool { return s == StepConfirmed || s == StepDone }

// Priced reports whether the order's lines carry prices.
func (o Order) Priced() bool { return o.Total != nil }

// Settled reports whether the order reached a state the saga will not change by itself.
func (o Order) Settled() bool { return o.Step.Settled() }

// Reason says why an order was rejected. Values are the names of the API's RejectReason enum.
type Reason string

// Reasons.
const (
	ReasonNone                  Reason = ""
	ReasonOutOfStock            Reason = "REJECT_REASON_OUT_OF_STOCK"
	ReasonPaymentDeclined       Reason = "REJECT_REASON_PAYMENT_DECLINED"
	ReasonCustomerInactive      Reason = "REJECT_REASON_CUSTOMER_INACTIVE"
	ReasonCustomerNotFound      Reason = "REJECT_REASON_CUSTOMER_NOT_FOUND"
	ReasonProductNotFound       Reason = "REJECT_REASON_PRODUCT_NOT_FOUND"
	ReasonDependencyUnavailable Reason = "REJECT_REASON_DEPENDENCY_UNAVAILABLE"
	ReasonCurrencyMismatch      Reason = "REJECT_REASON_CURRENCY_MISMATCH"
	ReasonInternal              Reason = "REJECT_REASON_INTERNAL"
)

// Reasons lists every reason, for mapping tests.
var Reasons = []Reason{
	ReasonOutOfStock, ReasonPaymentDeclined, ReasonCustomerInactive, ReasonCustomerNotFound,
	ReasonProductNotFound, ReasonDependencyUnavailable, ReasonCurrencyMismatch, ReasonInternal,
}

// Message is a human-readable description of the reason.
func (r Reason) Message() string {
	switch r {
	case ReasonOutOfStock:
		return "a product does not have enough stock"
	case ReasonPaymentDeclined:
		return "the payment was declined"
	case ReasonCustomerInactive:
		return "the customer's account is inactive"
	case ReasonCustomerNotFound:
		return "the customer does not exist"
	case ReasonProductNotFound:
		return "a product does not exist"
	case ReasonDependencyUnavailable:
		return "a service the order needs stayed unavailable"
	case ReasonCurrencyMismatch:
		return "the products are priced in more than one currency"
	case ReasonInternal:
		return "the order could not be completed"
	}
	return ""
}
