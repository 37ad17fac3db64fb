package rpc_test

import (
	"context"
	"testing"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"

	"mercato.dev/ent/dbtest"
)

// BenchmarkCreateOrder places orders through the whole orders service in-process — mTLS,
// authorization, validation, handler, saga (five persisted steps) and store — with its
// dependencies answered by in-process stand-ins, so it measures this service's own cost.
func BenchmarkCreateOrder(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run(db.name, func(b *testing.B) {
			f := newFixtureOn(b, db.url(b))
			c := f.as(b, alice)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := c.CreateOrder(context.Background(), createRequest(alice, "pm_card_visa"))
					if err != nil || res.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
						b.Errorf("%v, %v", res.GetOrder().GetStatus(), err)
						return
					}
				}
			})
		})
	}
}
