package bench

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
)

// Step is one measured load.
type Step struct {
	Name        string
	Kind        string        // "orders" (CreateOrder) or "product" (GetProduct)
	Mode        string        // "closed" or "open"
	Concurrency int           // closed loop
	Rate        float64       // open loop, requests per second
	Duration    time.Duration // how long to send
	Total       int64         // closed loop: stop after this many requests instead (0: use Duration)
	Warmup      int64         // requests sent first, outside the measurement
	MaxInFlight int           // open loop bound (default 1024)
	Lag         bool          // orders: measure commit → notification lag for this step's orders
}

// Runner runs steps against one platform.
type Runner struct {
	Pool         *Pool
	Fixture      *Fixture
	Admin        Admin
	Launcher     int           // pid of `mercato up`; 0: no CPU accounting
	PostgresDB   string        // also account the PostgreSQL backends of databases whose name contains this
	Timeout      time.Duration // per call
	DrainTimeout time.Duration // how long to wait for the async work after an orders step
	seq          atomic.Int64
	answered     int // CreateOrder calls answered with an order, warm-ups included
}

// Run performs one step: warm-up, CPU snapshot, load, wait until the outbox backlogs are empty
// and notifications has handled one event per order answered, CPU snapshot.
func (r *Runner) Run(ctx context.Context, s Step) (Result, error) {
	var placed *Placed
	if s.Lag {
		placed = &Placed{}
	}
	op := GetProduct(r.Fixture)
	if s.Kind == "orders" {
		op = CreateOrder(r.Fixture, placed)
	}
	if s.Warmup > 0 {
		warm := Closed(ctx, r.Pool, op, max(1, min(s.Concurrency, 16)), 0, s.Warmup, &r.seq, r.timeout())
		if s.Kind == "orders" {
			r.answered += warm.OK
		}
		if warm.Errors > 0 {
			return warm, fmt.Errorf("%s: warm-up: %d of %d requests failed: %v", s.Name, warm.Errors, warm.Sent, warm.ErrorSample)
		}
		if s.Kind == "orders" {
			if _, note := r.Admin.WaitDrained(ctx, 0, 0, r.drainTimeout()); note != "" {
				return warm, fmt.Errorf("%s: after warm-up: %s", s.Name, note)
			}
		}
	}
	var procs []Proc
	var before Ticks
	var handledBefore float64
	if s.Kind == "orders" {
		var err error
		if handledBefore, err = r.Admin.Handled(ctx); err != nil {
			return Result{}, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	if r.Launcher > 0 {
		var err error
		if procs, err = r.procs(); err != nil {
			return Result{}, err
		}
		if before, err = Snapshot(procs); err != nil {
			return Result{}, err
		}
	}
	var res Result
	if s.Mode == "open" {
		res = Open(ctx, r.Pool, op, s.Rate, s.Duration, cmpOr(s.MaxInFlight, 1024), &r.seq, r.timeout())
	} else {
		res = Closed(ctx, r.Pool, op, s.Concurrency, s.Duration, s.Total, &r.seq, r.timeout())
	}
	res.Name = s.Name
	if s.Kind == "orders" {
		r.answered += res.OK
	}
	var drain time.Duration
	var note string
	if s.Kind == "orders" {
		drain, note = r.Admin.WaitDrained(ctx, handledBefore, res.OK, r.drainTimeout())
	}
	if r.Launcher > 0 {
		procs, err := r.procs() // PostgreSQL backends may have come (and gone)
		if err != nil {
			return res, err
		}
		after, err := Snapshot(procs)
		if err != nil {
			return res, err
		}
		res.CPU = CPUBetween(procs, before, after, res.OK)
		res.CPU.DrainSeconds = math.Round(drain.Seconds()*1000) / 1000
		res.CPU.Drained, res.CPU.DrainNote = note == "", note
	}
	if note != "" && r.Launcher == 0 {
		return res, fmt.Errorf("%s: %s", s.Name, note)
	}
	if placed != nil {
		lag, n, err := r.lag(ctx, placed)
		if err != nil {
			return res, err
		}
		res.Lag, res.LagSamples = &lag, n
	}
	return res, nil
}

// lag pairs each placed order with its notification: the time from the order's last update
// (the transaction that wrote its event to the outbox) to the notification's record time.
func (r *Runner) lag(ctx context.Context, placed *Placed) (Latency, int, error) {
	var lags []time.Duration
	err := r.eachNotification(ctx, func(n *notificationsv1.Notification) {
		if o, ok := placed.orders[n.GetOrderId()]; ok {
			lags = append(lags, n.GetCreateTime().AsTime().Sub(o.GetUpdateTime().AsTime()))
		}
	})
	return summarize(lags), len(lags), err
}

// Notifications counts the notifications of the fixture's customers through the public API.
func (r *Runner) Notifications(ctx context.Context) (int, error) {
	total := 0
	err := r.eachNotification(ctx, func(*notificationsv1.Notification) { total++ })
	return total, err
}

// CheckNotifications waits until the fixture's customers have, through the public API, exactly
// one notification per order answered so far; more than that, or fewer after timeout, is an error.
func (r *Runner) CheckNotifications(ctx context.Context, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := r.Notifications(ctx)
		switch {
		case err != nil:
			return n, err
		case n > r.answered:
			return n, fmt.Errorf("%d notifications for %d orders: some event was recorded twice", n, r.answered)
		case n == r.answered:
			return n, nil
		case time.Now().After(deadline):
			return n, fmt.Errorf("%d notifications for %d orders after %s", n, r.answered, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// eachNotification pages through every notification of the fixture's customers, each with the
// customer's own token.
func (r *Runner) eachNotification(ctx context.Context, fn func(*notificationsv1.Notification)) error {
	c := r.Pool.Conn(0)
	for _, cu := range r.Fixture.Customers {
		token := ""
		for {
			callCtx, cancel := context.WithTimeout(ctx, r.timeout())
			res, err := c.Notifications.ListNotifications(withToken(callCtx, cu.Token), &notificationsv1.ListNotificationsRequest{
				CustomerId: cu.ID, PageSize: 100, PageToken: token,
			})
			cancel()
			if err != nil {
				return fmt.Errorf("list notifications of %s: %w", cu.Email, err)
			}
			for _, n := range res.GetNotifications() {
				fn(n)
			}
			if token = res.GetNextPageToken(); token == "" {
				break
			}
		}
	}
	return nil
}

// procs are the processes whose CPU a step costs: the launcher's tree and, with PostgresDB, the
// PostgreSQL backends of the platform's databases.
func (r *Runner) procs() ([]Proc, error) {
	procs, err := Tree(r.Launcher)
	if err != nil || r.PostgresDB == "" {
		return procs, err
	}
	pg, err := PostgresBackends(r.PostgresDB)
	return append(procs, pg...), err
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout <= 0 {
		return 10 * time.Second
	}
	return r.Timeout
}

func (r *Runner) drainTimeout() time.Duration {
	if r.DrainTimeout <= 0 {
		return 60 * time.Second
	}
	return r.DrainTimeout
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
