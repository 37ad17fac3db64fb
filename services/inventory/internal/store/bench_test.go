package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/services/inventory/internal/stock"
)

// BenchmarkReserve measures ReserveStock's transaction (reservation rows, guarded updates,
// commit) for orders of two items, sequential and from parallel callers, on each engine.
//
//	go test -run '^$' -bench Reserve ./internal/store/
func BenchmarkReserve(b *testing.B) {
	engines := []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			f := newFixture(b, e.url(b))
			x, y := f.product(b, "SKU-X", 1_000_000_000), f.product(b, "SKU-Y", 1_000_000_000)
			order := items(x.ID, 1, y.ID, 2)
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					reserveOrFail(b, f, order)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reservations/s")
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						reserveOrFail(b, f, order)
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reservations/s")
			})
		})
	}
}

func reserveOrFail(b *testing.B, f fixture, order []stock.Item) {
	if _, err := f.inv.Reserve(b.Context(), uuid.New(), order); err != nil {
		b.Error(err)
	}
}

// BenchmarkProduct is GetProduct's read by primary key on SQLite, under a context with a
// deadline as every request has (the SQLite driver would watch such a context with a goroutine
// per statement; see ent/database's statementContext).
func BenchmarkProduct(b *testing.B) {
	f := newFixture(b, dbtest.SQLite(b))
	p := f.product(b, "SKU-P", 10)
	ctx, cancel := context.WithTimeout(b.Context(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.inv.Product(ctx, p.ID); err != nil {
			b.Fatal(err)
		}
	}
}
