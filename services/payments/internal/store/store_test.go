package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	ent "mercato.dev/ent/payments"
	"mercato.dev/ent/payments/migrate"
	entpayment "mercato.dev/ent/payments/payment"
	"mercato.dev/services/payments/internal/payment"
	"mercato.dev/services/payments/internal/store"
)

// fixture is the use cases on a real store, and the ent client to count rows.
type fixture struct {
	ps     *payment.Payments
	client *ent.Client
}

func newFixture(t *testing.T, url string) fixture {
	t.Helper()
	db := dbtest.Open(t, url, migrate.Migrations)
	client := ent.NewClient(ent.Driver(db.Driver()))
	st, err := store.New(client, db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	return fixture{ps: payment.New(st), client: client}
}

// warm opens n pooled connections, so that n calls started together overlap in the database
// rather than queue behind connection set-up.
func (f fixture) warm(t *testing.T, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _ = f.client.Payment.Query().Where(entpayment.OrderID(uuid.New())).ExistX(t.Context()) })
	}
	wg.Wait()
}

func request(method string, minor int64) payment.Request {
	return payment.Request{OrderID: uuid.New(), CustomerID: uuid.New(), Amount: payment.Money{AmountMinor: minor, Currency: "EUR"}, Method: method}
}

func (f fixture) rows(t *testing.T, order uuid.UUID) int {
	t.Helper()
	return f.client.Payment.Query().Where(entpayment.OrderID(order)).CountX(t.Context())
}

func TestAuthorizeIsIdempotentByOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		req := request("pm_card_visa", 1999)
		first, err := f.ps.Authorize(t.Context(), req)
		if err != nil || first.Status != payment.Authorized || first.DeclineReason != payment.NotDeclined {
			t.Fatalf("authorize: %+v, %v", first, err)
		}
		again, err := f.ps.Authorize(t.Context(), req)
		if err != nil || again.ID != first.ID || !again.CreateTime.Equal(first.CreateTime) {
			t.Errorf("retry: %+v, %v; want the first payment %s", again, err, first.ID)
		}
		other := req
		other.Amount.AmountMinor++
		if _, err := f.ps.Authorize(t.Context(), other); !errors.Is(err, payment.ErrOtherRequest) {
			t.Errorf("another amount: %v, want ErrOtherRequest", err)
		}
		other = req
		other.CustomerID = uuid.New()
		if _, err := f.ps.Authorize(t.Context(), other); !errors.Is(err, payment.ErrOtherRequest) {
			t.Errorf("another customer: %v, want ErrOtherRequest", err)
		}
		if n := f.rows(t, req.OrderID); n != 1 {
			t.Errorf("%d payment rows for the order, want 1", n)
		}
	})
}

func TestDeclineIsStoredAsAnOutcome(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		for _, tc := range []struct {
			req    payment.Request
			reason payment.DeclineReason
		}{
			{request(payment.MethodCardDeclined, 100), payment.CardDeclined},
			{request(payment.MethodInsufficientFunds, 100), payment.InsufficientFunds},
			{request("pm_card_visa", payment.MaxAmountMinor+1), payment.AmountTooLarge},
		} {
			p, err := f.ps.Authorize(t.Context(), tc.req)
			if err != nil || p.Status != payment.Declined || p.DeclineReason != tc.reason {
				t.Errorf("%s: %+v, %v; want declined with reason %v", tc.req.Method, p, err, tc.reason)
			}
			stored, err := f.ps.ByID(t.Context(), p.ID)
			if err != nil || stored.Status != payment.Declined || stored.DeclineReason != tc.reason {
				t.Errorf("%s stored as %+v, %v", tc.req.Method, stored, err)
			}
			// A retry returns the decline, with a card that would now be authorized.
			retry := tc.req
			retry.Method = "pm_card_visa"
			if again, err := f.ps.Authorize(t.Context(), retry); err != nil || again.ID != p.ID || again.Status != payment.Declined {
				t.Errorf("retry of a decline: %+v, %v", again, err)
			}
		}
	})
}

func TestVoid(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		req := request("pm_card_visa", 500)
		authorized, err := f.ps.Authorize(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			p, err := f.ps.Void(t.Context(), req.OrderID)
			if err != nil || p.Status != payment.Voided || p.ID != authorized.ID {
				t.Fatalf("void: %+v, %v", p, err)
			}
		}
		if p, err := f.ps.Authorize(t.Context(), req); err != nil || p.Status != payment.Voided {
			t.Errorf("authorize after void: %+v, %v; want the voided payment", p, err)
		}

		declined := request(payment.MethodCardDeclined, 500)
		if _, err := f.ps.Authorize(t.Context(), declined); err != nil {
			t.Fatal(err)
		}
		if p, err := f.ps.Void(t.Context(), declined.OrderID); err != nil || p.Status != payment.Declined {
			t.Errorf("void of a declined payment: %+v, %v; want it unchanged", p, err)
		}
		if _, err := f.ps.Void(t.Context(), uuid.New()); !errors.Is(err, payment.ErrNotFound) {
			t.Errorf("void of an unknown order: %v, want ErrNotFound", err)
		}
	})
}

func TestLookups(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		req := request("pm_card_visa", 500)
		p, err := f.ps.Authorize(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		byOrder, err := f.ps.ByOrder(t.Context(), req.OrderID)
		if err != nil || byOrder.ID != p.ID || byOrder.CustomerID != req.CustomerID || byOrder.Method != "pm_card_visa" || byOrder.Amount != req.Amount {
			t.Errorf("by order: %+v, %v", byOrder, err)
		}
		// The answer of the call that wrote the row is the row as stored, field for field.
		if byID, err := f.ps.ByID(t.Context(), p.ID); err != nil || fmt.Sprint(byID) != fmt.Sprint(p) || fmt.Sprint(byOrder) != fmt.Sprint(p) {
			t.Errorf("stored %+v (%v)\nby order %+v\nanswered %+v", byID, err, byOrder, p)
		}
		if _, err := f.ps.ByID(t.Context(), uuid.New()); !errors.Is(err, payment.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		if _, err := f.ps.ByOrder(t.Context(), uuid.New()); !errors.Is(err, payment.ErrNotFound) {
			t.Errorf("unknown order: %v", err)
		}
	})
}

// TestConcurrentAuthorizationsMakeOnePayment sends the same authorization 20 times at once.
func TestConcurrentAuthorizationsMakeOnePayment(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const calls = 20
		f := newFixture(t, url)
		req := request("pm_card_visa", 4200)
		ids := make(chan uuid.UUID, calls)
		errs := make(chan error, calls)
		f.warm(t, calls)
		start := make(chan struct{}) // released once every caller is waiting
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				<-start
				p, err := f.ps.Authorize(t.Context(), req)
				if err != nil {
					errs <- err
					return
				}
				ids <- p.ID
			})
		}
		close(start)
		wg.Wait()
		close(ids)
		close(errs)
		for err := range errs {
			t.Errorf("authorize: %v", err)
		}
		distinct := map[uuid.UUID]bool{}
		for id := range ids {
			distinct[id] = true
		}
		if len(distinct) != 1 {
			t.Errorf("%d distinct payment IDs answered, want 1", len(distinct))
		}
		if n := f.rows(t, req.OrderID); n != 1 {
			t.Errorf("%d payment rows, want 1", n)
		}
	})
}
