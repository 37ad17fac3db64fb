package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders/migrate"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
	"mercato.dev/services/orders/internal/store"
)

// TestStore is the store's behavioural suite, on SQLite and on PostgreSQL.
func TestStore(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		s := store.New(dbtest.Open(t, url, migrate.Migrations))
		t.Run("create and get", func(t *testing.T) { testCreateGet(t, s) })
		t.Run("idempotency key", func(t *testing.T) { testIdempotencyKey(t, s) })
		t.Run("lease", func(t *testing.T) { testLease(t, s) })
		t.Run("advance", func(t *testing.T) { testAdvance(t, s) })
		t.Run("priced from the reservation", func(t *testing.T) { testPricedFromReservation(t, s) })
		t.Run("unfinished", func(t *testing.T) { testUnfinished(t, s) })
		t.Run("list pages", func(t *testing.T) { testList(t, s) })
	})
}

var now = order.Now(time.Now())

func newOrder(customer uuid.UUID, lease order.Lease, lines ...order.Line) order.Order {
	if len(lines) == 0 {
		lines = []order.Line{{ProductID: uuid.New(), Quantity: 2}, {ProductID: uuid.New(), Quantity: 1}}
	}
	r := order.Request{CustomerID: customer, IdempotencyKey: uuid.NewString(), Items: lines, PaymentMethod: "pm_card_visa"}
	return order.New(r, now, lease)
}

func mustCreate(t *testing.T, s *store.Store, o order.Order) order.Order {
	t.Helper()
	if err := s.Create(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

func mustGet(t *testing.T, s *store.Store, id uuid.UUID) order.Order {
	t.Helper()
	o, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func testCreateGet(t *testing.T, s *store.Store) {
	lease := order.Lease{Owner: "me", ExpiresAt: now.Add(time.Minute)}
	o := mustCreate(t, s, newOrder(uuid.New(), lease))
	got := mustGet(t, s, o.ID)
	if fmt.Sprint(got) != fmt.Sprint(o) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, o)
	}
	if got.Total != nil || got.Status != order.StatusPending || got.Step != order.StepCreated {
		t.Errorf("new order: total %v, %s/%s", got.Total, got.Status, got.Step)
	}
	if byKey, err := s.GetByKey(t.Context(), o.CustomerID, o.IdempotencyKey); err != nil || byKey.ID != o.ID {
		t.Errorf("by key: %v, %v", byKey.ID, err)
	}
	if _, err := s.Get(t.Context(), uuid.New()); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
}

func testIdempotencyKey(t *testing.T, s *store.Store) {
	customer := uuid.New()
	first := newOrder(customer, order.Lease{})
	var wins, dups atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		o := newOrder(customer, order.Lease{})
		o.IdempotencyKey = first.IdempotencyKey
		wg.Go(func() {
			switch err := s.Create(context.Background(), o); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, saga.ErrDuplicate):
				dups.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || dups.Load() != 19 {
		t.Errorf("20 concurrent creates with one key: %d created, %d duplicates", wins.Load(), dups.Load())
	}
	other := newOrder(uuid.New(), order.Lease{})
	other.IdempotencyKey = first.IdempotencyKey
	if err := s.Create(t.Context(), other); err != nil {
		t.Errorf("another customer, same key: %v", err)
	}
}

func testLease(t *testing.T, s *store.Store) {
	ctx := t.Context()
	held := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "a", ExpiresAt: now.Add(time.Minute)}))
	if _, ok, err := s.Claim(ctx, held.ID, order.Lease{Owner: "b", ExpiresAt: now.Add(time.Minute)}, now); err != nil || ok {
		t.Errorf("claimed a held lease: %v %v", ok, err)
	}
	if ok, err := s.Renew(ctx, held.ID, order.Lease{Owner: "b", ExpiresAt: now.Add(time.Hour)}); err != nil || ok {
		t.Errorf("renewed another's lease: %v %v", ok, err)
	}
	if ok, err := s.Renew(ctx, held.ID, order.Lease{Owner: "a", ExpiresAt: now.Add(time.Hour)}); err != nil || !ok {
		t.Errorf("owner could not renew: %v %v", ok, err)
	}
	if got := mustGet(t, s, held.ID); !got.Lease.ExpiresAt.Equal(now.Add(time.Hour)) || !got.UpdateTime.Equal(held.UpdateTime) {
		t.Errorf("after renewal: lease %v, update time %v (was %v)", got.Lease, got.UpdateTime, held.UpdateTime)
	}

	t.Run("two claimers of an expired lease: one wins", func(t *testing.T) {
		o := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "dead", ExpiresAt: now.Add(-time.Second)}))
		var wins atomic.Int64
		var winner atomic.Value
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				owner := fmt.Sprintf("p%d", i)
				got, ok, err := s.Claim(context.Background(), o.ID, order.Lease{Owner: owner, ExpiresAt: now.Add(time.Minute)}, now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
					winner.Store(owner)
					if got.Lease.Owner != owner {
						t.Errorf("claim returned lease %+v", got.Lease)
					}
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d claimers won", wins.Load())
		}
		if got := mustGet(t, s, o.ID); got.Lease.Owner != winner.Load() {
			t.Errorf("stored owner %q, winner %q", got.Lease.Owner, winner.Load())
		}
	})
	t.Run("release with a retry time", func(t *testing.T) {
		o := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "a", ExpiresAt: now.Add(time.Minute)}))
		if err := s.Release(ctx, o.ID, "b", 5, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, s, o.ID); got.Lease.Owner != "a" || got.Attempts != 0 {
			t.Errorf("another owner released the lease: %+v", got)
		}
		if err := s.Release(ctx, o.ID, "a", 3, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		got := mustGet(t, s, o.ID)
		if got.Lease.Owner != "" || got.Attempts != 3 {
			t.Errorf("released: lease %+v, attempts %d", got.Lease, got.Attempts)
		}
		if _, ok, _ := s.Claim(ctx, o.ID, order.Lease{Owner: "b", ExpiresAt: now.Add(time.Minute)}, now); ok {
			t.Error("claimed before the retry time")
		}
		if _, ok, _ := s.Claim(ctx, o.ID, order.Lease{Owner: "b", ExpiresAt: now.Add(time.Minute)}, now.Add(2*time.Second)); !ok {
			t.Error("not claimable after the retry time")
		}
		if err := s.Release(ctx, o.ID, "b", 3, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Claim(ctx, o.ID, order.Lease{Owner: "c", ExpiresAt: now.Add(time.Minute)}, now); !ok {
			t.Error("a lease released without retry time is not free")
		}
	})
}

func testAdvance(t *testing.T, s *store.Store) {
	ctx := t.Context()
	o := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "me", ExpiresAt: now.Add(time.Minute)}))
	checked := o.CustomerChecked()
	if err := s.Advance(ctx, "other", o.Step, checked); !errors.Is(err, order.ErrLeaseLost) {
		t.Errorf("advance without the lease: %v", err)
	}
	if err := s.Advance(ctx, "me", order.StepPriced, checked); !errors.Is(err, order.ErrLeaseLost) {
		t.Errorf("advance from the wrong step: %v", err)
	}
	if err := s.Advance(ctx, "me", o.Step, checked); err != nil {
		t.Fatal(err)
	}
	prices := map[uuid.UUID]order.Money{}
	for i, it := range o.Items {
		prices[it.ProductID] = order.Money{Amount: int64(100 * (i + 1)), Currency: "EUR"}
	}
	priced := checked.Price(prices)
	if err := s.Advance(ctx, "me", checked.Step, priced); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, o.ID)
	if got.Total == nil || *got.Total != *priced.Total || fmt.Sprint(got.Items) != fmt.Sprint(priced.Items) || got.Step != order.StepPriced {
		t.Errorf("priced: total %v items %v step %s, want %v %v", got.Total, got.Items, got.Step, priced.Total, priced.Items)
	}
	if got.Lease.Owner != "me" {
		t.Errorf("lease %+v dropped before the saga settled", got.Lease)
	}
	confirmed := priced.Reserved().Confirm(uuid.New())
	if err := s.Advance(ctx, "me", priced.Step, confirmed); err != nil {
		t.Fatal(err)
	}
	got = mustGet(t, s, o.ID)
	if got.Status != order.StatusConfirmed || *got.PaymentID != *confirmed.PaymentID || got.Lease != (order.Lease{}) {
		t.Errorf("confirmed: %s payment %v lease %+v", got.Status, got.PaymentID, got.Lease)
	}
	if !got.UpdateTime.After(o.UpdateTime) {
		t.Errorf("update time %v not after %v", got.UpdateTime, o.UpdateTime)
	}
	rejected := o.Reject(order.ReasonCustomerNotFound, false)
	r := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "me", ExpiresAt: now.Add(time.Minute)}))
	rejected.ID = r.ID
	if err := s.Advance(ctx, "me", r.Step, rejected); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, r.ID); got.Status != order.StatusRejected || got.Reason != order.ReasonCustomerNotFound || got.Total != nil {
		t.Errorf("rejected: %s %q total %v", got.Status, got.Reason, got.Total)
	}
}

func testUnfinished(t *testing.T, s *store.Store) {
	ctx := t.Context()
	// Earlier subtests left orders behind; look only at these.
	free := mustCreate(t, s, newOrder(uuid.New(), order.Lease{}))
	expired := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "dead", ExpiresAt: now.Add(-time.Second)}))
	held := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "alive", ExpiresAt: now.Add(time.Minute)}))
	canceling := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "me", ExpiresAt: now.Add(time.Minute)}))
	c := canceling.CustomerChecked()
	c.Status, c.Step = order.StatusConfirmed, order.StepCompensating
	if err := s.Advance(ctx, "me", canceling.Step, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, canceling.ID, "me", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := mustCreate(t, s, newOrder(uuid.New(), order.Lease{Owner: "me", ExpiresAt: now.Add(time.Minute)}))
	if err := s.Advance(ctx, "me", done.Step, done.Reject(order.ReasonCustomerInactive, false)); err != nil {
		t.Fatal(err)
	}
	ids, err := s.Unfinished(ctx, now, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uuid.UUID]bool{}
	for _, id := range ids {
		got[id] = true
	}
	want := map[string]struct {
		id   uuid.UUID
		want bool
	}{
		"free": {free.ID, true}, "expired": {expired.ID, true}, "held": {held.ID, false},
		"canceling": {canceling.ID, true}, "done": {done.ID, false},
	}
	for name, w := range want {
		if got[w.id] != w.want {
			t.Errorf("%s: listed %v, want %v", name, got[w.id], w.want)
		}
	}
}

func testList(t *testing.T, s *store.Store) {
	ctx := t.Context()
	customer := uuid.New()
	mustCreate(t, s, newOrder(uuid.New(), order.Lease{})) // someone else's
	var placed []uuid.UUID
	for i := range 25 {
		o := newOrder(customer, order.Lease{})
		o.CreateTime = now.Add(time.Duration(i/2) * time.Second) // pairs share a create time
		mustCreate(t, s, o)
		placed = append(placed, o.ID)
	}
	var (
		seen   []order.Order
		cursor order.Cursor
		pages  int
	)
	for {
		page, next, err := s.List(ctx, order.Page{CustomerID: customer, Size: 10, After: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		seen = append(seen, page...)
		if next.IsZero() {
			break
		}
		if cursor, err = order.ParseToken(next.Token()); err != nil {
			t.Fatal(err)
		}
	}
	if pages != 3 || len(seen) != 25 {
		t.Fatalf("%d pages, %d orders, want 3 and 25", pages, len(seen))
	}
	ids := map[uuid.UUID]bool{}
	for i, o := range seen {
		ids[o.ID] = true
		if o.CustomerID != customer || len(o.Items) != 2 {
			t.Errorf("order %d: customer %s, %d items", i, o.CustomerID, len(o.Items))
		}
		if i > 0 {
			prev := seen[i-1]
			if o.CreateTime.After(prev.CreateTime) || (o.CreateTime.Equal(prev.CreateTime) && o.ID.String() >= prev.ID.String()) {
				t.Errorf("order %d out of order", i)
			}
		}
	}
	if len(ids) != 25 {
		t.Errorf("%d distinct orders over the pages", len(ids))
	}
	for _, bad := range []string{"x", "bm90IGEgY3Vyc29y"} {
		if _, err := order.ParseToken(bad); !errors.Is(err, order.ErrBadPageToken) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

// testPricedFromReservation: an order created customer-checked is priced in memory from its
// reservation and first stored priced with its outcome; the outcome stores the lines' prices.
func testPricedFromReservation(t *testing.T, s *store.Store) {
	ctx := t.Context()
	o := newOrder(uuid.New(), order.Lease{Owner: "me", ExpiresAt: now.Add(time.Minute)}).CustomerChecked()
	o = mustCreate(t, s, o)
	if got := mustGet(t, s, o.ID); got.Step != order.StepCustomerChecked || got.Priced() {
		t.Fatalf("created %s, priced %v; want customer_checked, unpriced", got.Step, got.Priced())
	}
	prices := map[uuid.UUID]order.Money{}
	for i, it := range o.Items {
		prices[it.ProductID] = order.Money{Amount: int64(300 * (i + 1)), Currency: "EUR"}
	}
	confirmed := o.ReservedAt(prices).Confirm(uuid.New())
	if err := s.Advance(ctx, "me", o.Step, confirmed); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, o.ID)
	if got.Total == nil || *got.Total != *confirmed.Total || fmt.Sprint(got.Items) != fmt.Sprint(confirmed.Items) || got.Status != order.StatusConfirmed {
		t.Errorf("confirmed: total %v items %v status %s, want %v %v", got.Total, got.Items, got.Status, confirmed.Total, confirmed.Items)
	}
}
