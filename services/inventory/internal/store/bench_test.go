package store_test

import (
	"testing"

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
