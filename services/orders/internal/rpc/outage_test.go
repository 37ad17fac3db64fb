package rpc_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/claims"
)

// TestDatabaseSessionsKilledMidLoad terminates every session of the service's PostgreSQL
// database again and again while orders are placed: no call may answer internal (a lost
// connection is unavailable or aborted, which a client retries with the same idempotency key),
// and every order retried to success exists exactly once.
func TestDatabaseSessionsKilledMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL outage scenario: runs without -short")
	}
	t.Parallel()
	url := dbtest.Postgres(t)
	f := newFixtureOn(t, url)
	customer := claims.Claims{Subject: uuid.NewString(), Roles: []string{claims.RoleCustomer}}
	c := f.as(t, customer)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// Each worker places at least minPerWorker orders, and goes on (up to maxPerWorker, all of
	// them on one ListOrders page) until some call has met a terminated session, for up to
	// 30 s: how many orders that takes depends on how fast the writes are.
	const workers, minPerWorker, maxPerWorker = 4, 6, 24
	start := time.Now()
	var (
		terminated, retried, attempted atomic.Int64
		wrong                          sync.Map // code → one error
		placed                         sync.Map // idempotency key → order ID
		done                           = make(chan struct{})
		load, stop                     = context.WithCancel(ctx)
	)
	defer stop()
	go func() {
		defer close(done)
		for load.Err() == nil {
			terminated.Add(int64(dbtest.TerminateSessions(t, url)))
			time.Sleep(150 * time.Millisecond) // a saga takes several transactions: let some finish
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range maxPerWorker {
				if i >= minPerWorker && (retried.Load() > 0 || time.Since(start) > 30*time.Second) {
					return
				}
				attempted.Add(1)
				req := createRequest(customer, "pm_card_visa")
				for {
					res, err := c.CreateOrder(ctx, req)
					code := connect.CodeOf(err)
					if err == nil {
						placed.Store(req.GetIdempotencyKey(), res.GetOrder().GetOrderId())
						break
					}
					if code != connect.CodeUnavailable && code != connect.CodeAborted {
						wrong.LoadOrStore(code, err)
						break
					}
					retried.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	stop()
	<-done
	wrong.Range(func(code, err any) bool {
		t.Errorf("CreateOrder answered %v: %v", code, err)
		return true
	})
	keys := 0
	placed.Range(func(_, id any) bool {
		keys++
		var got *ordersv1.GetOrderResponse
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if got, err = c.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: id.(string)}); connect.CodeOf(err) != connect.CodeUnavailable {
				break
			}
		}
		if err != nil || got.GetOrder().GetCustomerId() != customer.Subject {
			t.Errorf("order %s answered placed, then %v %v", id, got, err)
		}
		return true
	})
	var listed int
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var res *ordersv1.ListOrdersResponse
		if res, err = c.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: customer.Subject, PageSize: 100}); err == nil {
			listed = len(res.GetOrders())
			break
		}
	}
	t.Logf("%d orders placed in %s, %d retries after unavailable/aborted, %d database sessions terminated",
		keys, time.Since(start).Round(time.Millisecond), retried.Load(), terminated.Load())
	if err != nil || int64(keys) != attempted.Load() || listed != keys {
		t.Errorf("%d of %d orders placed, %d listed (%v): want each once", keys, attempted.Load(), listed, err)
	}
	if retried.Load() == 0 {
		t.Error("no call met a terminated session: the test proved nothing")
	}
}
