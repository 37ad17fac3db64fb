package outbox_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders/outboxevent"
	"mercato.dev/services/kit/outbox"
)

// TestSQLStore runs the store's behaviour on SQLite and PostgreSQL, on the outbox table the
// orders migrations create, with rows written by ent as a service writes them.
func TestSQLStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := time.Now().Add(-time.Minute)
	tests := []struct {
		name string
		fn   func(t *testing.T, f fixture)
	}{
		{"claims pending events oldest first, each once", func(t *testing.T, f fixture) {
			evs := testEvents(5, "mercato.orders.v1.confirmed", base)
			f.insert(t, evs[4], evs[2], evs[0], evs[3], evs[1])
			got, err := f.store.Claim(ctx, "a", 3, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), ids(evs[:3])) {
				t.Fatalf("claimed %v, want the 3 oldest %v", ids(got), ids(evs[:3]))
			}
			for i, ev := range got {
				want := evs[i]
				if ev.Subject != want.Subject || string(ev.Payload) != string(want.Payload) ||
					ev.Headers["traceparent"] != want.Headers["traceparent"] || !sameTime(ev.CreateTime, want.CreateTime) {
					t.Errorf("claimed %+v, want %+v", ev, want)
				}
			}
			rest, err := f.store.Claim(ctx, "b", 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(rest), ids(evs[3:])) {
				t.Fatalf("second owner claimed %v, want %v", ids(rest), ids(evs[3:]))
			}
			if none, _ := f.store.Claim(ctx, "c", 10, time.Minute); len(none) != 0 {
				t.Fatalf("claimed %d events under running leases", len(none))
			}
			if r := f.row(t, evs[0].ID); r.Status != outboxevent.StatusClaimed || r.ClaimedBy != "a" || r.Attempts != 1 {
				t.Errorf("claimed row = %+v", r)
			}
		}},
		{"an expired lease is claimed again", func(t *testing.T, f fixture) {
			evs := testEvents(1, "mercato.orders.v1.confirmed", base)
			f.insert(t, evs...)
			if got, _ := f.store.Claim(ctx, "a", 10, 200*time.Millisecond); len(got) != 1 {
				t.Fatalf("a claimed %d", len(got))
			}
			if got, _ := f.store.Claim(ctx, "b", 10, time.Minute); len(got) != 0 {
				t.Fatal("b claimed an event under a's running lease")
			}
			time.Sleep(300 * time.Millisecond)
			got, err := f.store.Claim(ctx, "b", 10, time.Minute)
			if err != nil || len(got) != 1 || got[0].ID != evs[0].ID {
				t.Fatalf("b after a's lease expired: %v, %v", ids(got), err)
			}
			if r := f.row(t, evs[0].ID); r.ClaimedBy != "b" || r.Attempts != 2 {
				t.Errorf("row = %+v, want claimed by b on attempt 2", r)
			}
			if n, err := f.store.MarkSent(ctx, "a", ids(evs)); err != nil || n != 0 {
				t.Errorf("a marked %d sent (err %v) after losing its lease", n, err)
			}
			if n, err := f.store.MarkSent(ctx, "b", ids(evs)); err != nil || n != 1 {
				t.Errorf("b marked %d sent (err %v), want 1", n, err)
			}
		}},
		{"only the owner marks sent", func(t *testing.T, f fixture) {
			evs := testEvents(3, "mercato.orders.v1.confirmed", base)
			f.insert(t, evs...)
			if _, err := f.store.Claim(ctx, "a", 2, time.Minute); err != nil {
				t.Fatal(err)
			}
			if n, _ := f.store.MarkSent(ctx, "b", ids(evs)); n != 0 {
				t.Errorf("b marked %d of a's events sent", n)
			}
			if n, _ := f.store.MarkSent(ctx, "a", ids(evs)); n != 2 {
				t.Errorf("a marked %d sent, want its 2 (not the pending one)", n)
			}
			r := f.row(t, evs[0].ID)
			if r.Status != outboxevent.StatusSent || r.SentTime == nil || r.ClaimedUntil != nil {
				t.Errorf("sent row = %+v", r)
			}
			if r := f.row(t, evs[2].ID); r.Status != outboxevent.StatusPending {
				t.Errorf("unclaimed row = %+v, want pending", r)
			}
			if got, _ := f.store.Claim(ctx, "b", 10, time.Minute); !slices.Equal(ids(got), ids(evs[2:])) {
				t.Errorf("after sending, claimed %v, want only the pending %v", ids(got), ids(evs[2:]))
			}
		}},
		{"released events are claimable at once", func(t *testing.T, f fixture) {
			evs := testEvents(2, "mercato.orders.v1.confirmed", base)
			f.insert(t, evs...)
			if _, err := f.store.Claim(ctx, "a", 10, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := f.store.Release(ctx, "b", ids(evs)); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.store.Claim(ctx, "b", 10, time.Minute); len(got) != 0 {
				t.Fatal("another owner released a's claim")
			}
			if err := f.store.Release(ctx, "a", ids(evs)); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.store.Claim(ctx, "b", 10, time.Minute); !slices.Equal(ids(got), ids(evs)) {
				t.Errorf("claimed %v after release, want %v", ids(got), ids(evs))
			}
		}},
		{"backlog counts unsent events and dates the oldest", func(t *testing.T, f fixture) {
			n, oldest, err := f.store.Backlog(ctx)
			if err != nil || n != 0 || !oldest.IsZero() {
				t.Fatalf("empty backlog = %d, %v, %v", n, oldest, err)
			}
			evs := testEvents(3, "mercato.orders.v1.confirmed", base)
			f.insert(t, evs...)
			if _, err := f.store.Claim(ctx, "a", 1, time.Minute); err != nil {
				t.Fatal(err)
			}
			n, oldest, err = f.store.Backlog(ctx)
			if err != nil || n != 3 || !sameTime(oldest, evs[0].CreateTime) {
				t.Fatalf("backlog = %d, %v, %v; want 3 and %v (claimed is unsent)", n, oldest, err, evs[0].CreateTime)
			}
			if _, err := f.store.MarkSent(ctx, "a", ids(evs[:1])); err != nil {
				t.Fatal(err)
			}
			n, oldest, err = f.store.Backlog(ctx)
			if err != nil || n != 2 || !sameTime(oldest, evs[1].CreateTime) {
				t.Fatalf("backlog = %d, %v, %v; want 2 and %v", n, oldest, err, evs[1].CreateTime)
			}
		}},
		{"sent events are deleted after their retention", func(t *testing.T, f fixture) {
			evs := testEvents(2, "mercato.orders.v1.confirmed", base)
			f.insert(t, evs...)
			if _, err := f.store.Claim(ctx, "a", 1, time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := f.store.MarkSent(ctx, "a", ids(evs[:1])); err != nil {
				t.Fatal(err)
			}
			if n, err := f.store.DeleteSent(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
				t.Fatalf("deleted %d recent events (err %v)", n, err)
			}
			if n, err := f.store.DeleteSent(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
				t.Fatalf("deleted %d (err %v), want the sent one", n, err)
			}
			if got, _ := f.client.OutboxEvent.Query().Count(ctx); got != 1 {
				t.Errorf("%d rows left, want the unsent one", got)
			}
		}},
		{"concurrent claims are disjoint", func(t *testing.T, f fixture) {
			evs := testEvents(300, "mercato.orders.v1.confirmed", base)
			f.insert(t, evs...)
			var mu sync.Mutex
			seen := map[string]string{}
			var wg sync.WaitGroup
			for w := range 4 {
				owner := string(rune('a' + w))
				wg.Go(func() {
					for {
						got, err := f.store.Claim(ctx, owner, 7, time.Minute)
						if err != nil {
							t.Error(err)
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, ev := range got {
							if prev, ok := seen[ev.ID]; ok {
								t.Errorf("%s claimed by %s and %s", ev.ID, prev, owner)
							}
							seen[ev.ID] = owner
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(seen) != len(evs) {
				t.Errorf("claimed %d of %d events", len(seen), len(evs))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbtest.Each(t, func(t *testing.T, url string) { tt.fn(t, newFixture(t, url)) })
		})
	}
}

func TestNewSQLStoreRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ dialect, table string }{
		{"mysql", "outbox_events"},
		{"sqlite3", "outbox; DROP TABLE orders"},
		{"postgres", ""},
	} {
		if _, err := outbox.NewSQLStore(nil, tt.dialect, tt.table); err == nil {
			t.Errorf("NewSQLStore(%q, %q) succeeded", tt.dialect, tt.table)
		}
	}
}

// sameTime compares times to PostgreSQL's microsecond precision.
func sameTime(a, b time.Time) bool {
	return a.Sub(b).Abs() <= time.Microsecond
}
