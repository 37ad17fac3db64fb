package order_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
)

func newOrder(lines ...order.Line) order.Order {
	return order.New(order.Request{CustomerID: uuid.New(), IdempotencyKey: "key-12345", Items: lines, PaymentMethod: "pm_x"}, time.Now(), order.Lease{})
}

func TestPrice(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	o := newOrder(order.Line{ProductID: a, Quantity: 3}, order.Line{ProductID: b, Quantity: 2}).CustomerChecked()
	tests := []struct {
		name       string
		prices     map[uuid.UUID]order.Money
		wantStep   order.Step
		wantReason order.Reason
		wantTotal  int64
	}{
		{"one currency", map[uuid.UUID]order.Money{a: {Amount: 100, Currency: "EUR"}, b: {Amount: 5, Currency: "EUR"}}, order.StepPriced, order.ReasonNone, 310},
		{"two currencies", map[uuid.UUID]order.Money{a: {Amount: 100, Currency: "EUR"}, b: {Amount: 5, Currency: "USD"}}, order.StepDone, order.ReasonCurrencyMismatch, 0},
		{"overflowing line", map[uuid.UUID]order.Money{a: {Amount: math.MaxInt64 / 2, Currency: "EUR"}, b: {Amount: 1, Currency: "EUR"}}, order.StepDone, order.ReasonInternal, 0},
		{"overflowing total", map[uuid.UUID]order.Money{a: {Amount: math.MaxInt64 / 3, Currency: "EUR"}, b: {Amount: math.MaxInt64 / 4, Currency: "EUR"}}, order.StepDone, order.ReasonInternal, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := o.Price(tt.prices)
			if got.Step != tt.wantStep || got.Reason != tt.wantReason {
				t.Fatalf("got %s %q, want %s %q", got.Step, got.Reason, tt.wantStep, tt.wantReason)
			}
			if tt.wantStep == order.StepPriced && (got.Total.Amount != tt.wantTotal || got.Total.Currency != "EUR") {
				t.Errorf("total %+v, want %d EUR", got.Total, tt.wantTotal)
			}
			if tt.wantStep != order.StepPriced && (got.Priced() || got.Status != order.StatusRejected) {
				t.Errorf("rejected order priced %v, status %s", got.Priced(), got.Status)
			}
			if o.Items[0].UnitPrice != 0 {
				t.Error("Price changed the order it was called on")
			}
		})
	}
}

func TestRejectCompensatesOnlyWhatMayBeHeld(t *testing.T) {
	t.Parallel()
	o := newOrder(order.Line{ProductID: uuid.New(), Quantity: 1})
	if got := o.Reject(order.ReasonCustomerNotFound, o.MayHold()); got.Status != order.StatusRejected || got.Step != order.StepDone {
		t.Errorf("nothing held: %s/%s", got.Status, got.Step)
	}
	priced := o.CustomerChecked().Price(map[uuid.UUID]order.Money{o.Items[0].ProductID: {Amount: 1, Currency: "EUR"}})
	got := priced.Reject(order.ReasonDependencyUnavailable, priced.MayHold())
	if got.Status != order.StatusPending || got.Step != order.StepCompensating || got.Reason != order.ReasonDependencyUnavailable {
		t.Errorf("may hold stock: %s/%s %q", got.Status, got.Step, got.Reason)
	}
	if done := got.Compensated(); done.Status != order.StatusRejected || !done.Settled() {
		t.Errorf("compensated: %s/%s", done.Status, done.Step)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	o := newOrder(order.Line{ProductID: uuid.New(), Quantity: 1})
	confirmed := o.CustomerChecked().Price(map[uuid.UUID]order.Money{o.Items[0].ProductID: {Amount: 1, Currency: "EUR"}}).Reserved().Confirm(uuid.New())
	canceling, err := confirmed.Cancel("changed my mind")
	if err != nil || canceling.Step != order.StepCompensating || canceling.Status != order.StatusConfirmed {
		t.Fatalf("cancel confirmed: %s/%s, %v", canceling.Status, canceling.Step, err)
	}
	canceled := canceling.Compensated()
	if canceled.Status != order.StatusCanceled || !canceled.Settled() {
		t.Errorf("compensated cancel: %s/%s", canceled.Status, canceled.Step)
	}
	for name, tt := range map[string]struct {
		o    order.Order
		want error
	}{
		"canceled":   {canceled, nil},
		"canceling":  {canceling, nil},
		"rejected":   {o.Reject(order.ReasonOutOfStock, false), order.ErrNotCancelable},
		"pending":    {o, order.ErrStillPending},
		"compensate": {o.Reject(order.ReasonPaymentDeclined, true), order.ErrStillPending},
	} {
		if got, err := tt.o.Cancel(""); !errors.Is(err, tt.want) || got.Step != tt.o.Step {
			t.Errorf("%s: step %s→%s, %v; want unchanged, %v", name, tt.o.Step, got.Step, err, tt.want)
		}
	}
}

func TestPageToken(t *testing.T) {
	t.Parallel()
	c := order.Cursor{CreateTime: order.Now(time.Now()), ID: uuid.New()}
	got, err := order.ParseToken(c.Token())
	if err != nil || got != c {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, c)
	}
	if (order.Cursor{}).Token() != "" {
		t.Error("first page has a token")
	}
	if got, err := order.ParseToken(""); err != nil || !got.IsZero() {
		t.Errorf("empty token: %+v, %v", got, err)
	}
}

func TestNewSortsLinesByProduct(t *testing.T) {
	t.Parallel()
	a := uuid.MustParse("00000000-0000-4000-8000-000000000002")
	b := uuid.MustParse("00000000-0000-4000-8000-000000000001")
	o := newOrder(order.Line{ProductID: a, Quantity: 1}, order.Line{ProductID: b, Quantity: 2})
	if o.Items[0].ProductID != b || o.Status != order.StatusPending || o.Step != order.StepCreated || o.RequestHash == "" {
		t.Errorf("new order %+v", o)
	}
}

func TestReservedAt(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	o := newOrder(order.Line{ProductID: a, Quantity: 3}, order.Line{ProductID: b, Quantity: 2}).CustomerChecked()
	if !o.MayHold() {
		t.Error("a customer-checked order reserves next: it may hold stock")
	}
	got := o.ReservedAt(map[uuid.UUID]order.Money{a: {Amount: 100, Currency: "EUR"}, b: {Amount: 5, Currency: "EUR"}})
	if got.Step != order.StepStockReserved || got.Total == nil || *got.Total != (order.Money{Amount: 310, Currency: "EUR"}) {
		t.Errorf("reserved: %s, total %+v; want stock_reserved, 310 EUR", got.Step, got.Total)
	}
	// Prices the order cannot take reject it, releasing the stock the reservation holds.
	got = o.ReservedAt(map[uuid.UUID]order.Money{a: {Amount: 100, Currency: "EUR"}, b: {Amount: 5, Currency: "USD"}})
	if got.Step != order.StepCompensating || got.Reason != order.ReasonCurrencyMismatch || got.Priced() {
		t.Errorf("two currencies: %s %q priced %v; want compensating CURRENCY_MISMATCH, unpriced", got.Step, got.Reason, got.Priced())
	}
}

func TestNewStartsCustomerCheckedOnlyWhenProven(t *testing.T) {
	t.Parallel()
	r := order.Request{CustomerID: uuid.New(), IdempotencyKey: "key-12345", Items: []order.Line{{ProductID: uuid.New(), Quantity: 1}}, PaymentMethod: "pm_x"}
	if o := order.New(r, time.Now(), order.Lease{}); o.Step != order.StepCreated || o.MayHold() {
		t.Errorf("unproven: %s, may hold %v; want created, nothing held", o.Step, o.MayHold())
	}
	proven := r
	proven.CustomerProven = true
	if o := order.New(proven, time.Now(), order.Lease{}); o.Step != order.StepCustomerChecked {
		t.Errorf("proven: %s, want customer_checked", o.Step)
	}
	if proven.Hash() != r.Hash() {
		t.Error("the proof changed the request's hash")
	}
}
