package outbox_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"mercato.dev/ent/dbtest"
	"mercato.dev/services/kit/events"
)

// BenchmarkStoreSmallBatch is the relay's store work per batch under moderate load, where a
// batch is an event or two: claim (limit 100), then mark sent, on a table that already holds
// sent rows. One op is one batch of two events; the inserts are timed too (as in a service).
func BenchmarkStoreSmallBatch(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run(db.name, func(b *testing.B) {
			f := newFixture(b, db.url(b))
			ctx := context.Background()
			old := testEvents(2000, events.OrderConfirmed, time.Now().Add(-time.Hour))
			f.insert(b, old...)
			if got, err := f.store.Claim(ctx, "bench", len(old), time.Minute); err != nil || len(got) != len(old) {
				b.Fatalf("claim the old rows: %d, %v", len(got), err)
			}
			if _, err := f.store.MarkSent(ctx, "bench", ids(old)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu := cpuTime()
			for range b.N {
				f.insert(b, testEvents(2, events.OrderConfirmed, time.Now())...)
				got, err := f.store.Claim(ctx, "bench", 100, time.Minute)
				if err != nil || len(got) != 2 {
					b.Fatalf("claim: %d, %v", len(got), err)
				}
				if n, err := f.store.MarkSent(ctx, "bench", ids(got)); err != nil || n != 2 {
					b.Fatalf("mark sent: %d, %v", n, err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU time this process has used (user and system): a benchmark's ns/op on a
// database that syncs to disk is mostly waiting.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
