package saga_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

// fixture is a saga over an in-memory store and fake dependencies.
type fixture struct {
	store *memStore
	deps  *fakeDeps
	saga  *saga.Saga
	opts  saga.Options
}

func newFixture(t *testing.T, tune ...func(*saga.Options)) *fixture {
	t.Helper()
	f := &fixture{store: newMemStore(), deps: newFakeDeps()}
	f.opts = saga.Options{LeaseTTL: 300 * time.Millisecond, RecoverEvery: 20 * time.Millisecond, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	for _, fn := range tune {
		fn(&f.opts)
	}
	f.saga = f.newSaga()
	return f
}

// newSaga is another process over the same store and dependencies.
func (f *fixture) newSaga() *saga.Saga {
	s := saga.New(f.store, f.deps, f.deps, f.deps, f.opts)
	return s
}

// recover runs s's recovery loop until the test ends.
func recoverLoop(t *testing.T, s *saga.Saga) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Recover(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := s.Close(5 * time.Second); err != nil {
			t.Error(err)
		}
	})
}

// request is what CreateOrder places: the customer's own, proved by their token.
func (f *fixture) request(customer uuid.UUID, method string, lines ...order.Line) order.Request {
	return order.Request{CustomerID: customer, IdempotencyKey: uuid.NewString(), Items: lines, PaymentMethod: method, CustomerProven: true}
}

// unproven is a request no token proved the customer of: the saga checks the customer first.
func (f *fixture) unproven(customer uuid.UUID, method string, lines ...order.Line) order.Request {
	r := f.request(customer, method, lines...)
	r.CustomerProven = false
	return r
}

func place(t *testing.T, s *saga.Saga, r order.Request, within time.Duration) order.Order {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	o, err := s.Place(ctx, r)
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	return o
}

// eventually waits for the stored order to satisfy ok.
func (f *fixture) eventually(t *testing.T, id uuid.UUID, ok func(order.Order) bool) order.Order {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o, err := f.store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(o) {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still %s/%s (attempts %d) after 5s", id, o.Status, o.Step, o.Attempts)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func settled(o order.Order) bool { return o.Settled() }

func TestOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(f *fixture) order.Request
		wantStatus order.Status
		wantReason order.Reason
		wantStock  int64 // of the first product, from 10
		wantCalls  [4]int64
		wantChecks int64 // customers asked
	}{
		{
			name: "confirmed",
			setup: func(f *fixture) order.Request {
				p := f.deps.addProduct(250, "EUR", 10)
				q := f.deps.addProduct(100, "EUR", 10)
				return f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 2}, order.Line{ProductID: q, Quantity: 3})
			},
			wantStatus: order.StatusConfirmed, wantStock: 8, wantCalls: [4]int64{1, 1, 0, 0},
		},
		{
			name: "customer proved by the token: customers is not asked",
			setup: func(f *fixture) order.Request {
				return f.request(uuid.New(), "pm_card_visa", order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 1})
			},
			wantStatus: order.StatusConfirmed, wantStock: 9, wantCalls: [4]int64{1, 1, 0, 0},
		},
		{
			name: "unproven customer checked and confirmed",
			setup: func(f *fixture) order.Request {
				return f.unproven(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 1})
			},
			wantStatus: order.StatusConfirmed, wantStock: 9, wantCalls: [4]int64{1, 1, 0, 0}, wantChecks: 1,
		},
		{
			name: "unproven customer not found",
			setup: func(f *fixture) order.Request {
				return f.unproven(uuid.New(), "pm_card_visa", order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 1})
			},
			wantStatus: order.StatusRejected, wantReason: order.ReasonCustomerNotFound, wantStock: 10, wantChecks: 1,
		},
		{
			name: "unproven customer inactive",
			setup: func(f *fixture) order.Request {
				return f.unproven(f.deps.addCustomer(false), "pm_card_visa", order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 1})
			},
			wantStatus: order.StatusRejected, wantReason: order.ReasonCustomerInactive, wantStock: 10, wantChecks: 1,
		},
		{
			name: "product not found",
			setup: func(f *fixture) order.Request {
				return f.request(f.deps.addCustomer(true), "pm_card_visa",
					order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 1}, order.Line{ProductID: uuid.New(), Quantity: 1})
			},
			wantStatus: order.StatusRejected, wantReason: order.ReasonProductNotFound, wantStock: 10, wantCalls: [4]int64{1, 0, 0, 0},
		},
		{
			name: "currency mismatch releases the stock it was priced from",
			setup: func(f *fixture) order.Request {
				return f.request(f.deps.addCustomer(true), "pm_card_visa",
					order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 1}, order.Line{ProductID: f.deps.addProduct(250, "USD", 10), Quantity: 1})
			},
			wantStatus: order.StatusRejected, wantReason: order.ReasonCurrencyMismatch, wantStock: 10, wantCalls: [4]int64{1, 0, 1, 1},
		},
		{
			name: "out of stock moves no stock and compensates nothing",
			setup: func(f *fixture) order.Request {
				p := f.deps.addProduct(250, "EUR", 10)
				return f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 5}, order.Line{ProductID: f.deps.addProduct(1, "EUR", 2), Quantity: 3})
			},
			wantStatus: order.StatusRejected, wantReason: order.ReasonOutOfStock, wantStock: 10, wantCalls: [4]int64{1, 0, 0, 0},
		},
		{
			name: "payment declined releases the stock",
			setup: func(f *fixture) order.Request {
				return f.request(f.deps.addCustomer(true), "pm_card_declined", order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 4})
			},
			wantStatus: order.StatusRejected, wantReason: order.ReasonPaymentDeclined, wantStock: 10, wantCalls: [4]int64{1, 1, 1, 1},
		},
		{
			name: "a refused call rejects as internal and compensates",
			setup: func(f *fixture) order.Request {
				f.deps.authorizeErr = errors.New("permission_denied: misconfigured")
				return f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: f.deps.addProduct(250, "EUR", 10), Quantity: 4})
			},
			wantStatus: order.StatusRejected, wantReason: order.ReasonInternal, wantStock: 10, wantCalls: [4]int64{1, 1, 1, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			r := tt.setup(f)
			o := place(t, f.saga, r, 5*time.Second)
			if o.Status != tt.wantStatus || o.Reason != tt.wantReason || !o.Settled() {
				t.Fatalf("got %s/%s reason %q, want %s reason %q", o.Status, o.Step, o.Reason, tt.wantStatus, tt.wantReason)
			}
			if got := f.deps.stockOf(r.Items[0].ProductID); got != tt.wantStock {
				t.Errorf("stock %d, want %d", got, tt.wantStock)
			}
			got := [4]int64{f.deps.reserves.Load(), f.deps.authzs.Load(), f.deps.releases.Load(), f.deps.voids.Load()}
			if got != tt.wantCalls {
				t.Errorf("calls (reserve, authorize, release, void) = %v, want %v", got, tt.wantCalls)
			}
			if got := f.deps.checks.Load(); got != tt.wantChecks {
				t.Errorf("customers asked %d times, want %d", got, tt.wantChecks)
			}
			if o.Lease != (order.Lease{}) {
				t.Errorf("lease %+v kept after the saga settled", o.Lease)
			}
		})
	}
}

func TestConfirmedOrderIsPricedAndPaid(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p, q := f.deps.addProduct(250, "EUR", 10), f.deps.addProduct(1999, "EUR", 10)
	r := f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 2}, order.Line{ProductID: q, Quantity: 1})
	o := place(t, f.saga, r, 5*time.Second)
	if o.Total == nil || *o.Total != (order.Money{Amount: 2499, Currency: "EUR"}) {
		t.Errorf("total %+v, want 2499 EUR", o.Total)
	}
	for _, it := range o.Items {
		if want := map[uuid.UUID]int64{p: 250, q: 1999}[it.ProductID]; it.UnitPrice != want {
			t.Errorf("item %+v, want unit price %d", it, want)
		}
	}
	if o.PaymentID == nil || f.deps.paymentOf(o.ID) != "authorized" {
		t.Errorf("payment %v, %q", o.PaymentID, f.deps.paymentOf(o.ID))
	}
	a := f.deps.lastAuthorization
	if a.OrderID != o.ID || a.CustomerID != r.CustomerID || a.Amount != *o.Total || a.Method != "pm_card_visa" {
		t.Errorf("authorization %+v", a)
	}
	// Only what a resumed saga must know is stored (see persists): two commits, the order as
	// created (customer-checked: the token proved the customer) and the outcome.
	want := []order.Step{order.StepCustomerChecked, order.StepConfirmed}
	if fmt.Sprint(f.store.steps) != fmt.Sprint(want) {
		t.Errorf("persisted steps %v, want %v", f.store.steps, want)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.deps.addProduct(250, "EUR", 100)
	r := f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 1})

	t.Run("20 concurrent identical calls place one order", func(t *testing.T) {
		var wg sync.WaitGroup
		got := make([]order.Order, 20)
		for i := range got {
			wg.Go(func() { got[i] = place(t, f.saga, r, 5*time.Second) })
		}
		wg.Wait()
		for _, o := range got {
			if o.ID != got[0].ID || o.Status != order.StatusConfirmed {
				t.Fatalf("got order %s %s, want %s confirmed", o.ID, o.Status, got[0].ID)
			}
		}
		if n := f.store.count(); n != 1 {
			t.Errorf("%d orders stored", n)
		}
		if f.deps.reserves.Load() != 1 || f.deps.authzs.Load() != 1 || f.deps.stockOf(p) != 99 {
			t.Errorf("reserves %d, authorizations %d, stock %d", f.deps.reserves.Load(), f.deps.authzs.Load(), f.deps.stockOf(p))
		}
	})
	t.Run("the same key again answers the same order", func(t *testing.T) {
		first, _ := f.store.GetByKey(context.Background(), r.CustomerID, r.IdempotencyKey)
		reordered := r
		reordered.Items = []order.Line{{ProductID: p, Quantity: 1}}
		if o := place(t, f.saga, reordered, time.Second); o.ID != first.ID {
			t.Errorf("got %s, want %s", o.ID, first.ID)
		}
	})
	t.Run("the same key with another body is refused", func(t *testing.T) {
		other := r
		other.Items = []order.Line{{ProductID: p, Quantity: 2}}
		if _, err := f.saga.Place(context.Background(), other); !errors.Is(err, order.ErrKeyReused) {
			t.Errorf("got %v, want ErrKeyReused", err)
		}
		other = r
		other.PaymentMethod = "pm_other"
		if _, err := f.saga.Place(context.Background(), other); !errors.Is(err, order.ErrKeyReused) {
			t.Errorf("other payment method: got %v, want ErrKeyReused", err)
		}
		if f.store.count() != 1 || f.deps.stockOf(p) != 99 {
			t.Errorf("orders %d, stock %d", f.store.count(), f.deps.stockOf(p))
		}
	})
	t.Run("another customer may use the same key", func(t *testing.T) {
		other := r
		other.CustomerID = f.deps.addCustomer(true)
		if o := place(t, f.saga, other, time.Second); o.Status != order.StatusConfirmed || f.store.count() != 2 {
			t.Errorf("got %s, %d orders", o.Status, f.store.count())
		}
	})
}

func TestRequestHash(t *testing.T) {
	t.Parallel()
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	base := order.Request{CustomerID: c, IdempotencyKey: "k1", PaymentMethod: "pm_x", Items: []order.Line{{ProductID: a, Quantity: 1}, {ProductID: b, Quantity: 2}}}
	same := base
	same.IdempotencyKey = "k2"
	same.Items = []order.Line{{ProductID: b, Quantity: 2}, {ProductID: a, Quantity: 1}}
	if base.Hash() != same.Hash() {
		t.Error("item order or key changed the hash")
	}
	for name, change := range map[string]func(*order.Request){
		"customer": func(r *order.Request) { r.CustomerID = uuid.New() },
		"quantity": func(r *order.Request) {
			r.Items = []order.Line{{ProductID: a, Quantity: 2}, {ProductID: b, Quantity: 2}}
		},
		"product":        func(r *order.Request) { r.Items = []order.Line{{ProductID: a, Quantity: 1}} },
		"payment method": func(r *order.Request) { r.PaymentMethod = "pm_y" },
	} {
		r := base
		change(&r)
		if r.Hash() == base.Hash() {
			t.Errorf("changing the %s kept the hash", name)
		}
	}
}

// An order no token proved (none is placed so today; orders stored at created by a former
// version) is checked with customers first, and that check is stored: from there the saga may
// hold stock.
func TestUnprovenOrderStoresTheCustomerCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.deps.addProduct(250, "EUR", 10)
	o := place(t, f.saga, f.unproven(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 1}), 5*time.Second)
	if o.Status != order.StatusConfirmed || f.deps.checks.Load() != 1 {
		t.Fatalf("got %s after %d customer checks", o.Status, f.deps.checks.Load())
	}
	want := []order.Step{order.StepCreated, order.StepCustomerChecked, order.StepConfirmed}
	if fmt.Sprint(f.store.steps) != fmt.Sprint(want) {
		t.Errorf("persisted steps %v, want %v", f.store.steps, want)
	}
}
