package rpc_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"mercato.dev/ent/database"
	"mercato.dev/ent/dbtest"
	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/services/kit/identity"

	"mercato.dev/services/customers/internal/customer"
)

// TestDatabaseSessionsKilledMidLoad terminates every session of the service's PostgreSQL
// database again and again while customers sign up: no call may answer internal (a lost
// connection is unavailable or aborted, which a client retries), and every sign-up retried
// to success is stored exactly once.
func TestDatabaseSessionsKilledMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL outage scenario: runs without -short")
	}
	t.Parallel()
	url := dbtest.Postgres(t)
	f := newFixtureOn(t, url)
	c := f.client(t, identity.Edge)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	const workers, perWorker = 4, 25
	var (
		terminated, retried atomic.Int64
		wrong               sync.Map // code → one error
		done                = make(chan struct{})
	)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			terminated.Add(int64(dbtest.TerminateSessions(t, url)))
			time.Sleep(30 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	emails := make(chan string, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				email := fmt.Sprintf("outage-%d-%d@example.com", w, i)
				req := &customersv1.CreateCustomerRequest{Email: email, Password: "password1", DisplayName: "O"}
				for attempt := 0; ; attempt++ {
					_, err := c.CreateCustomer(ctx, req)
					code := connect.CodeOf(err)
					if err == nil || (attempt > 0 && code == connect.CodeAlreadyExists) {
						emails <- email // an earlier attempt may have committed before its answer was lost
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
	cancel()
	<-done
	close(emails)
	wrong.Range(func(code, err any) bool {
		t.Errorf("a sign-up answered %v: %v", code, err)
		return true
	})
	stored := 0
	for email := range emails {
		if _, err := getByEmail(f, email); err != nil {
			t.Errorf("%s answered OK but is not stored: %v", email, err)
			continue
		}
		stored++
	}
	t.Logf("%d sign-ups stored, %d retries after unavailable/aborted, %d database sessions terminated", stored, retried.Load(), terminated.Load())
	if stored != workers*perWorker {
		t.Errorf("%d of %d sign-ups stored", stored, workers*perWorker)
	}
	if retried.Load() == 0 {
		t.Error("no call met a terminated session: the test proved nothing")
	}
}

// getByEmail reads the customer straight from the store, once more when the pool hands out a
// connection whose session was terminated while it was idle.
func getByEmail(f *fixture, email string) (customer.Customer, error) {
	c, err := f.store.GetByEmail(context.Background(), email)
	for attempt := 0; err != nil && database.Classify(err) == database.Unavailable && attempt < 5; attempt++ {
		c, err = f.store.GetByEmail(context.Background(), email)
	}
	return c, err
}
