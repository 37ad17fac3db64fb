package store

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	entorder "mercato.dev/ent/orders/order"
)

// PendingGauge is saga_pending_orders: the orders whose saga has not decided yet, counted in
// the database at each scrape (so every replica reports the same, shared number). A failed
// count reads -1.
func (s *Store) PendingGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "saga_pending_orders",
		Help: "Orders in status PENDING (the saga has not confirmed or rejected them yet); -1 when the count failed.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.c.Order.Query().Where(entorder.StatusEQ(entorder.StatusPending)).Count(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}
