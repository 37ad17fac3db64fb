package order

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Request is what a customer asks for when placing an order.
type Request struct {
	CustomerID     uuid.UUID
	IdempotencyKey string
	Items          []Line
	PaymentMethod  string
	// CustomerProven: the customer placed the request with their own access token, which
	// proves they exist and are active (see CustomerChecked). Not part of the request's hash.
	CustomerProven bool
}

// Line is a quantity of one product to order.
type Line struct {
	ProductID uuid.UUID
	Quantity  int64
}

// Hash is the hex SHA-256 of the canonical request: customer, lines sorted by product, and
// payment method. The idempotency key is not part of it: it is what the hash is compared under.
// Two requests with the same hash ask for the same thing.
func (r Request) Hash() string {
	lines := slices.Clone(r.Items)
	slices.SortFunc(lines, func(a, b Line) int { return strings.Compare(a.ProductID.String(), b.ProductID.String()) })
	var b strings.Builder
	fmt.Fprintf(&b, "customer=%s\n", r.CustomerID)
	for _, l := range lines {
		fmt.Fprintf(&b, "item=%s*%d\n", l.ProductID, l.Quantity)
	}
	fmt.Fprintf(&b, "payment_method=%q\n", r.PaymentMethod)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// New is the pending order that r places at now, driven by lease. Its lines are sorted by
// product, as they are read back. A request the customer proved with their token starts
// customer-checked; any other starts created, and its saga checks the customer first.
func New(r Request, now time.Time, lease Lease) Order {
	step := StepCreated
	if r.CustomerProven {
		step = StepCustomerChecked
	}
	now = Now(now)
	items := make([]Item, len(r.Items))
	for i, l := range r.Items {
		items[i] = Item{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.ProductID.String(), b.ProductID.String()) })
	return Order{
		ID:             uuid.Must(uuid.NewV7()), // time-ordered: appended to the index (ent/internal/ids)
		CustomerID:     r.CustomerID,
		IdempotencyKey: r.IdempotencyKey,
		RequestHash:    r.Hash(),
		PaymentMethod:  r.PaymentMethod,
		Items:          items,
		Status:         StatusPending,
		Step:           step,
		Lease:          lease,
		CreateTime:     now,
		UpdateTime:     now,
	}
}

// Now is t as orders store it: UTC, microseconds (PostgreSQL's precision), so that a time
// read back compares equal to the one written on every database.
func Now(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
