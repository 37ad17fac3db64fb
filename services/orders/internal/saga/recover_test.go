package saga_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

var errDown = fmt.Errorf("payments: %w", saga.ErrUnavailable)

func TestUnavailableDependencyAnswersPendingThenRecovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recoverLoop(t, f.saga)
	p := f.deps.addProduct(250, "EUR", 10)
	f.deps.set(&f.deps.authorizeErr, errDown)
	r := f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 1})

	start := time.Now()
	o := place(t, f.saga, r, 300*time.Millisecond)
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("Place took %s with a 300ms deadline", took)
	}
	// The reservation is not stored as a step of its own: the order stays customer-checked
	// (which says it may hold stock) until the payment's outcome.
	if o.Status != order.StatusPending || o.Step != order.StepCustomerChecked {
		t.Fatalf("got %s/%s, want pending at customer_checked", o.Status, o.Step)
	}
	f.deps.set(&f.deps.authorizeErr, nil)
	o = f.eventually(t, o.ID, settled)
	if o.Status != order.StatusConfirmed || o.Attempts == 0 {
		t.Errorf("got %s after %d attempts, want confirmed after at least one", o.Status, o.Attempts)
	}
	if f.deps.stockOf(p) != 9 || f.deps.reserves.Load() < 1 {
		t.Errorf("stock %d", f.deps.stockOf(p))
	}
}

func TestSagaGivesUpAndCompensates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tune      func(*saga.Options)
		fail      func(d *fakeDeps) *error
		wantCalls [2]int64 // release, void
		unproven  bool     // placed without the customer's token: customers is asked first
	}{
		{"after MaxAttempts", func(o *saga.Options) { o.MaxAttempts = 3 }, func(d *fakeDeps) *error { return &d.authorizeErr }, [2]int64{1, 1}, false},
		{"after GiveUpAfter", func(o *saga.Options) { o.GiveUpAfter = 200 * time.Millisecond; o.MaxAttempts = 1000 }, func(d *fakeDeps) *error { return &d.authorizeErr }, [2]int64{1, 1}, false},
		// A reservation that timed out may have landed: giving up releases (a no-op if not).
		{"while reserving", func(o *saga.Options) { o.MaxAttempts = 2 }, func(d *fakeDeps) *error { return &d.reserveErr }, [2]int64{1, 1}, false},
		{"before anything is held", func(o *saga.Options) { o.MaxAttempts = 2 }, func(d *fakeDeps) *error { return &d.customerErr }, [2]int64{0, 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.tune)
			recoverLoop(t, f.saga)
			p := f.deps.addProduct(250, "EUR", 10)
			f.deps.set(tt.fail(f.deps), errDown)
			r := f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 3})
			if tt.unproven {
				r = f.unproven(r.CustomerID, r.PaymentMethod, order.Line{ProductID: p, Quantity: 3})
			}
			o := place(t, f.saga, r, 100*time.Millisecond)
			o = f.eventually(t, o.ID, settled)
			if o.Status != order.StatusRejected || o.Reason != order.ReasonDependencyUnavailable {
				t.Fatalf("got %s %q, want rejected DEPENDENCY_UNAVAILABLE", o.Status, o.Reason)
			}
			if f.deps.stockOf(p) != 10 {
				t.Errorf("stock %d, want 10", f.deps.stockOf(p))
			}
			if got := [2]int64{f.deps.releases.Load(), f.deps.voids.Load()}; got != tt.wantCalls {
				t.Errorf("release, void calls %v, want %v", got, tt.wantCalls)
			}
		})
	}
}

func TestCompensationRetriesUntilItSucceeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *saga.Options) { o.MaxAttempts = 1 })
	recoverLoop(t, f.saga)
	p := f.deps.addProduct(250, "EUR", 10)
	f.deps.set(&f.deps.releaseErr, fmt.Errorf("inventory: %w", saga.ErrUnavailable))
	o := place(t, f.saga, f.request(f.deps.addCustomer(true), "pm_card_declined", order.Line{ProductID: p, Quantity: 3}), 200*time.Millisecond)
	if o.Status != order.StatusPending || o.Step != order.StepCompensating || o.Reason != order.ReasonPaymentDeclined {
		t.Fatalf("got %s/%s %q, want pending, compensating for a decline", o.Status, o.Step, o.Reason)
	}
	time.Sleep(100 * time.Millisecond) // several failed attempts, beyond MaxAttempts
	f.deps.set(&f.deps.releaseErr, nil)
	o = f.eventually(t, o.ID, settled)
	if o.Status != order.StatusRejected || o.Reason != order.ReasonPaymentDeclined || f.deps.stockOf(p) != 10 {
		t.Errorf("got %s %q, stock %d", o.Status, o.Reason, f.deps.stockOf(p))
	}
}

// A process crashed right after reserving (the order is stored as created, customer-checked,
// unpriced; the reservation priced it at 2.50); the product's price changed since. Another
// process's recovery loop finds the saga once the lease expired and finishes it with the
// persisted payment method, at the reservation's stored price, not today's; a retried
// CreateOrder finishes it the same way.
func TestRecoveryAfterCrash(t *testing.T) {
	t.Parallel()
	crashed := func(f *fixture, r order.Request) order.Order {
		now := order.Now(time.Now())
		o := order.New(r, now.Add(-time.Second), order.Lease{Owner: "dead", ExpiresAt: now.Add(100 * time.Millisecond)})
		if o.Step != order.StepCustomerChecked || o.Priced() {
			panic("a proven request is not created customer-checked and unpriced")
		}
		if _, err := f.deps.Reserve(context.Background(), o.ID, o.Items); err != nil {
			panic(err)
		}
		f.deps.setPrice(o.Items[0].ProductID, 999)
		f.store.put(o)
		return o
	}
	pricedAtReservation := func(t *testing.T, f *fixture, o order.Order) {
		t.Helper()
		if o.Total == nil || *o.Total != (order.Money{Amount: 500, Currency: "EUR"}) || o.Items[0].UnitPrice != 250 {
			t.Errorf("order priced %+v, items %+v; want 2 × 250 EUR, the reservation's price", o.Total, o.Items)
		}
		if a := f.deps.lastAuthorization; a.Amount.Amount != 500 {
			t.Errorf("authorized %+v, want 500 EUR", a.Amount)
		}
	}
	t.Run("recovery loop", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		p := f.deps.addProduct(250, "EUR", 10)
		o := crashed(f, f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 2}))
		recoverLoop(t, f.newSaga())
		start := time.Now()
		o = f.eventually(t, o.ID, settled)
		t.Logf("recovered in %s", time.Since(start))
		if o.Status != order.StatusConfirmed || f.deps.stockOf(p) != 8 {
			t.Errorf("got %s %q, stock %d; want confirmed with 2 of 10 units held", o.Status, o.Reason, f.deps.stockOf(p))
		}
		if f.deps.paymentOf(o.ID) == "" {
			t.Error("no payment authorized for the recovered order")
		}
		pricedAtReservation(t, f, o)
	})
	t.Run("retried CreateOrder", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		p := f.deps.addProduct(250, "EUR", 10)
		r := f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 2})
		o := crashed(f, r)
		got := place(t, f.newSaga(), r, 2*time.Second)
		if got.ID != o.ID || got.Status != order.StatusConfirmed || f.deps.stockOf(p) != 8 || f.deps.reserves.Load() != 2 {
			t.Errorf("got %s %s, stock %d, reserves %d (the crashed one and its idempotent retry)", got.ID, got.Status, f.deps.stockOf(p), f.deps.reserves.Load())
		}
		pricedAtReservation(t, f, got)
	})
}

func TestLeaseKeepsOneDriver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := make(chan struct{})
	f.deps.authorizeGate = gate
	p := f.deps.addProduct(250, "EUR", 10)
	o := place(t, f.saga, f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 1}), 100*time.Millisecond)
	if o.Status != order.StatusPending {
		t.Fatalf("got %s", o.Status)
	}
	// The first process is stuck in Authorize but renews its lease: a second one never claims.
	other := f.newSaga()
	recoverLoop(t, other)
	time.Sleep(3 * f.opts.LeaseTTL)
	if n := f.deps.authzs.Load(); n != 1 {
		t.Errorf("%d authorizations while the lease was held, want 1", n)
	}
	close(gate)
	o = f.eventually(t, o.ID, settled)
	if o.Status != order.StatusConfirmed || f.deps.authzs.Load() != 1 {
		t.Errorf("got %s after %d authorizations", o.Status, f.deps.authzs.Load())
	}
}

func TestLostLeaseStopsTheRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := make(chan struct{})
	f.deps.authorizeGate = gate
	p := f.deps.addProduct(250, "EUR", 10)
	o := place(t, f.saga, f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 1}), 100*time.Millisecond)
	// Another process took the order over (say this one was paused beyond its lease).
	stolen := o
	stolen, _ = f.store.Get(context.Background(), o.ID)
	stolen.Lease = order.Lease{Owner: "thief", ExpiresAt: time.Now().Add(time.Hour)}
	f.store.put(stolen)
	close(gate)
	time.Sleep(100 * time.Millisecond)
	got, _ := f.store.Get(context.Background(), o.ID)
	if got.Step != order.StepCustomerChecked || got.Lease.Owner != "thief" {
		t.Errorf("the run wrote after losing its lease: %s, owner %q", got.Step, got.Lease.Owner)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	customer := f.deps.addCustomer(true)
	p := f.deps.addProduct(250, "EUR", 10)
	ctx := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	confirmed := place(t, f.saga, f.request(customer, "pm_card_visa", order.Line{ProductID: p, Quantity: 4}), time.Second)
	t.Run("confirmed order compensates and ends canceled", func(t *testing.T) {
		o, err := f.saga.Cancel(ctx(), confirmed.ID, "test")
		if err != nil || o.Status != order.StatusCanceled || o.Step != order.StepDone {
			t.Fatalf("got %s/%s, %v", o.Status, o.Step, err)
		}
		if f.deps.stockOf(p) != 10 || f.deps.paymentOf(o.ID) != "voided" {
			t.Errorf("stock %d, payment %q", f.deps.stockOf(p), f.deps.paymentOf(o.ID))
		}
	})
	t.Run("canceling again answers the canceled order", func(t *testing.T) {
		before := f.deps.voids.Load()
		o, err := f.saga.Cancel(ctx(), confirmed.ID, "test")
		if err != nil || o.Status != order.StatusCanceled || f.deps.voids.Load() != before {
			t.Errorf("got %s, %v, voids %d→%d", o.Status, err, before, f.deps.voids.Load())
		}
	})
	t.Run("rejected order cannot be canceled", func(t *testing.T) {
		rejected := place(t, f.saga, f.request(customer, "pm_card_declined", order.Line{ProductID: p, Quantity: 1}), time.Second)
		if _, err := f.saga.Cancel(ctx(), rejected.ID, "test"); !errors.Is(err, order.ErrNotCancelable) {
			t.Errorf("got %v, want ErrNotCancelable", err)
		}
	})
	t.Run("pending order is canceled once confirmed", func(t *testing.T) {
		gate := make(chan struct{})
		f.deps.authorizeGate = gate
		defer func() { f.deps.authorizeGate = nil }()
		o := place(t, f.saga, f.request(customer, "pm_card_visa", order.Line{ProductID: p, Quantity: 1}), 50*time.Millisecond)
		time.AfterFunc(100*time.Millisecond, func() { close(gate) })
		got, err := f.saga.Cancel(ctx(), o.ID, "test")
		if err != nil || got.Status != order.StatusCanceled || f.deps.stockOf(p) != 10 {
			t.Errorf("got %s, %v, stock %d", got.Status, err, f.deps.stockOf(p))
		}
	})
	t.Run("pending order that does not settle in time", func(t *testing.T) {
		f.deps.set(&f.deps.authorizeErr, errDown)
		defer f.deps.set(&f.deps.authorizeErr, nil)
		o := place(t, f.saga, f.request(customer, "pm_card_visa", order.Line{ProductID: p, Quantity: 1}), 50*time.Millisecond)
		short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := f.saga.Cancel(short, o.ID, "test"); !errors.Is(err, order.ErrStillPending) {
			t.Errorf("got %v, want ErrStillPending", err)
		}
	})
	t.Run("unknown order", func(t *testing.T) {
		if _, err := f.saga.Cancel(ctx(), uuid.New(), "test"); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("got %v", err)
		}
	})
}

func TestCancelWhileDependencyDownFinishesLater(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recoverLoop(t, f.saga)
	p := f.deps.addProduct(250, "EUR", 10)
	o := place(t, f.saga, f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 4}), time.Second)
	f.deps.set(&f.deps.voidErr, errDown)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.saga.Cancel(ctx, o.ID, "test"); !errors.Is(err, saga.ErrCanceling) {
		t.Fatalf("got %v, want ErrCanceling", err)
	}
	f.deps.set(&f.deps.voidErr, nil)
	o = f.eventually(t, o.ID, settled)
	if o.Status != order.StatusCanceled || f.deps.stockOf(p) != 10 {
		t.Errorf("got %s, stock %d", o.Status, f.deps.stockOf(p))
	}
}

// An inventory that answers a reservation without prices (a version before the contract, during
// a rollout) is no outcome: the order stays pending, holding the stock, and is confirmed once
// inventory answers the prices.
func TestReservationWithoutPricesIsRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recoverLoop(t, f.saga)
	p := f.deps.addProduct(250, "EUR", 10)
	f.deps.unpriced.Store(true)
	o := place(t, f.saga, f.request(f.deps.addCustomer(true), "pm_card_visa", order.Line{ProductID: p, Quantity: 1}), 200*time.Millisecond)
	if o.Status != order.StatusPending || o.Step != order.StepCustomerChecked || f.deps.authzs.Load() != 0 {
		t.Fatalf("got %s/%s after %d authorizations, want pending at customer_checked, none", o.Status, o.Step, f.deps.authzs.Load())
	}
	f.deps.unpriced.Store(false)
	o = f.eventually(t, o.ID, settled)
	if o.Status != order.StatusConfirmed || o.Total == nil || o.Total.Amount != 250 || f.deps.stockOf(p) != 9 {
		t.Errorf("got %s total %+v stock %d, want confirmed at 250 EUR holding 1 unit", o.Status, o.Total, f.deps.stockOf(p))
	}
}
