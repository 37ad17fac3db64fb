package store_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/notifications/migrate"

	"mercato.dev/services/notifications/internal/notification"
	"mercato.dev/services/notifications/internal/store"
)

// clock ticks only when told, so that several notifications share a create time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) tick()          { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(1500 * time.Nanosecond) }

func event(customer uuid.UUID, kind notification.Kind) notification.Notification {
	return notification.Notification{
		EventID: uuid.New(), CustomerID: customer, OrderID: uuid.New(), Kind: kind,
		Subject: "Your order is " + string(kind), Body: "Thank you.",
	}
}

func newService(t *testing.T, url string) (*notification.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.FixedZone("CET", 3600))}
	return notification.NewService(store.New(dbtest.Open(t, url, migrate.Migrations)), c.now), c
}

func TestRecordIsIdempotentByEventID(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		svc, _ := newService(t, url)
		customer := uuid.New()
		n := event(customer, notification.KindOrderConfirmed)
		created, err := svc.Record(ctx, n)
		if err != nil || !created {
			t.Fatalf("first Record: created=%v err=%v", created, err)
		}
		again := n
		again.Subject = "a redelivery with other content"
		for range 3 {
			created, err = svc.Record(ctx, again)
			if err != nil || created {
				t.Fatalf("Record of the same event: created=%v err=%v, want false, nil", created, err)
			}
		}
		created, err = svc.Record(ctx, event(customer, notification.KindOrderCanceled))
		if err != nil || !created {
			t.Fatalf("another event: created=%v err=%v", created, err)
		}
		items, next, err := svc.List(ctx, customer, 0, "")
		if err != nil || len(items) != 2 || next != "" {
			t.Fatalf("List: %d items, next %q, %v; want 2, \"\"", len(items), next, err)
		}
		i := slices.IndexFunc(items, func(x notification.Notification) bool { return x.EventID == n.EventID })
		if i < 0 {
			t.Fatalf("event %s not listed", n.EventID)
		}
		got := items[i]
		if got.EventID != n.EventID || got.Subject != n.Subject || got.Body != n.Body || got.OrderID != n.OrderID ||
			got.Kind != notification.KindOrderConfirmed || got.ID == uuid.Nil || got.CreateTime.Location() != time.UTC {
			t.Errorf("stored %+v, recorded %+v", got, n)
		}
		if _, err := svc.Record(ctx, notification.Notification{Kind: "x"}); !errors.Is(err, notification.ErrInvalid) {
			t.Errorf("invalid notification: %v, want ErrInvalid", err)
		}
	})
}

func TestRecordConcurrentRedeliveries(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		svc, _ := newService(t, url)
		n := event(uuid.New(), notification.KindOrderRejected)
		var wg sync.WaitGroup
		results := make(chan bool, 8)
		for range 8 {
			wg.Go(func() {
				created, err := svc.Record(t.Context(), n)
				if err != nil {
					t.Error(err)
				}
				results <- created
			})
		}
		wg.Wait()
		close(results)
		count := 0
		for created := range results {
			if created {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%d of 8 concurrent deliveries created a notification, want exactly 1", count)
		}
	})
}

func TestListPagesNewestFirstByKeyset(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		svc, c := newService(t, url)
		ada, bob := uuid.New(), uuid.New()
		var want []uuid.UUID // ada's event IDs, oldest first
		for i := range 25 {
			n := event(ada, notification.KindOrderConfirmed)
			if _, err := svc.Record(ctx, n); err != nil {
				t.Fatal(err)
			}
			want = append(want, n.EventID)
			if _, err := svc.Record(ctx, event(bob, notification.KindOrderCanceled)); err != nil {
				t.Fatal(err)
			}
			if i%3 == 2 { // three notifications per timestamp: the ID breaks the ties
				c.tick()
			}
		}

		var pages [][]notification.Notification
		token := ""
		for {
			items, next, err := svc.List(ctx, ada, 10, token)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, items)
			if len(pages) == 1 { // a newer notification arriving mid-way must not shift later pages
				if _, err := svc.Record(ctx, event(ada, notification.KindOrderRejected)); err != nil {
					t.Fatal(err)
				}
			}
			if next == "" {
				break
			}
			if len(pages) > 5 {
				t.Fatal("pagination does not end")
			}
			token = next
		}
		if sizes := []int{len(pages[0]), len(pages[1]), len(pages[len(pages)-1])}; len(pages) != 3 || !slices.Equal(sizes, []int{10, 10, 5}) {
			t.Fatalf("%d pages of sizes %v, want 10, 10, 5", len(pages), sizes)
		}
		var all []notification.Notification
		for _, p := range pages {
			all = append(all, p...)
		}
		for i := 1; i < len(all); i++ {
			prev, cur := all[i-1], all[i]
			if cur.CreateTime.After(prev.CreateTime) || (cur.CreateTime.Equal(prev.CreateTime) && cur.ID.String() >= prev.ID.String()) {
				t.Errorf("item %d (%s %s) is not older than item %d (%s %s)", i, cur.CreateTime, cur.ID, i-1, prev.CreateTime, prev.ID)
			}
		}
		seen := map[uuid.UUID]bool{}
		for _, n := range all {
			if n.CustomerID != ada || seen[n.EventID] {
				t.Fatalf("page has %+v: another customer's or a duplicate", n)
			}
			seen[n.EventID] = true
		}
		for _, id := range want {
			if !seen[id] {
				t.Errorf("event %s missing from the pages", id)
			}
		}

		items, next, err := svc.List(ctx, ada, 0, "")
		if err != nil || len(items) != notification.DefaultPageSize || next == "" {
			t.Errorf("default page: %d items, next %q, %v", len(items), next, err)
		}
		items, next, err = svc.List(ctx, ada, 100, "")
		if err != nil || len(items) != 26 || next != "" {
			t.Errorf("one page of 100: %d items, next %q, %v; want all 26 and no next page", len(items), next, err)
		}
		if _, _, err := svc.List(ctx, ada, 10, "garbage"); !errors.Is(err, notification.ErrBadPageToken) {
			t.Errorf("bad token: %v", err)
		}
		if items, _, err := svc.List(ctx, uuid.New(), 10, ""); err != nil || len(items) != 0 {
			t.Errorf("customer without notifications: %d, %v", len(items), err)
		}
	})
}
