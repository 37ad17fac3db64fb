package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
)

// Op is one request of a load: the i-th of the run, sent on connection conn. It returns the
// business outcome ("CONFIRMED", "OK", …) or the call's error.
type Op func(ctx context.Context, conn *Clients, i int64) (outcome string, err error)

// CreateOrder orders one unit of the fixture's product for customer i mod n, with a unique
// idempotency key, and keeps what the lag figure needs when placed is not nil.
func CreateOrder(f *Fixture, placed *Placed) Op {
	return func(ctx context.Context, c *Clients, i int64) (string, error) {
		cu := f.Customers[int(i%int64(len(f.Customers)))]
		res, err := c.Orders.CreateOrder(withToken(ctx, cu.Token), &ordersv1.CreateOrderRequest{
			CustomerId:     cu.ID,
			IdempotencyKey: fmt.Sprintf("bench-%s-%d", f.RunID, i),
			Items:          []*ordersv1.CreateOrderRequest_Item{{ProductId: f.ProductID, Quantity: 1}},
			PaymentMethod:  "pm_card_visa",
		})
		if err != nil {
			return "", err
		}
		o := res.GetOrder()
		if placed != nil {
			placed.add(o)
		}
		return o.GetStatus().String(), nil
	}
}

// GetProduct reads the fixture's product anonymously.
func GetProduct(f *Fixture) Op {
	return func(ctx context.Context, c *Clients, _ int64) (string, error) {
		_, err := c.Inventory.GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: f.ProductID})
		if err != nil {
			return "", err
		}
		return "OK", nil
	}
}

// Placed collects the orders a run placed, by ID, with the time each reached its final state.
type Placed struct {
	mu     sync.Mutex
	orders map[string]*ordersv1.Order
}

func (p *Placed) add(o *ordersv1.Order) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.orders == nil {
		p.orders = map[string]*ordersv1.Order{}
	}
	p.orders[o.GetOrderId()] = o
}

// Result is what one load step measured.
type Result struct {
	Name        string         `json:"name"`
	Mode        string         `json:"mode"` // closed or open
	Concurrency int            `json:"concurrency,omitempty"`
	Rate        float64        `json:"rate,omitempty"` // open loop: requests scheduled per second
	Connections int            `json:"connections"`
	Seconds     float64        `json:"seconds"` // wall time of the measured step
	Sent        int            `json:"sent"`
	OK          int            `json:"ok"`
	Errors      int            `json:"errors"`
	ErrorCodes  map[string]int `json:"error_codes,omitempty"`
	ErrorSample []string       `json:"error_sample,omitempty"`
	Outcomes    map[string]int `json:"outcomes,omitempty"`
	PerSecond   float64        `json:"per_second"` // successful requests per second
	Latency     Latency        `json:"latency_ms"`
	CPU         *CPU           `json:"cpu,omitempty"`
	Lag         *Latency       `json:"lag_ms,omitempty"` // commit → notification recorded
	LagSamples  int            `json:"lag_samples,omitempty"`
}

// Latency summarises durations in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return math.Round(float64(x)/1e4) / 100 }
	q := func(p float64) float64 { return ms(d[min(len(d)-1, int(math.Ceil(p*float64(len(d))))-1)]) }
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: ms(d[len(d)-1]), Mean: ms(sum / time.Duration(len(d)))}
}

// recorder gathers outcomes from concurrent requests.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	res       Result
}

const maxErrorSamples = 5

func (r *recorder) record(outcome string, err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Sent++
	if err != nil {
		r.res.Errors++
		code := connect.CodeOf(err).String()
		if errors.Is(err, errOverload) {
			code = "not_sent_overload"
		}
		if r.res.ErrorCodes == nil {
			r.res.ErrorCodes = map[string]int{}
		}
		r.res.ErrorCodes[code]++
		if len(r.res.ErrorSample) < maxErrorSamples {
			r.res.ErrorSample = append(r.res.ErrorSample, err.Error())
		}
		return
	}
	r.res.OK++
	if r.res.Outcomes == nil {
		r.res.Outcomes = map[string]int{}
	}
	r.res.Outcomes[outcome]++
	r.latencies = append(r.latencies, took)
}

func (r *recorder) finish(wall time.Duration) Result {
	r.res.Seconds = math.Round(wall.Seconds()*1000) / 1000
	if wall > 0 {
		r.res.PerSecond = math.Round(float64(r.res.OK)/wall.Seconds()*10) / 10
	}
	r.res.Latency = summarize(r.latencies)
	return r.res
}

// errOverload marks a scheduled open-loop request not sent because too many were in flight.
var errOverload = errors.New("not sent: open-loop in-flight limit reached")

// Closed runs c workers, each sending its next request when the previous one answered, until
// duration has passed or, when total > 0, total requests have been sent. Requests are numbered
// from *seq (shared across steps, so idempotency keys stay unique).
func Closed(ctx context.Context, p *Pool, op Op, c int, duration time.Duration, total int64, seq *atomic.Int64, timeout time.Duration) Result {
	r := &recorder{res: Result{Mode: "closed", Concurrency: c, Connections: p.Size()}}
	var sent atomic.Int64
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := p.Conn(w)
			for ctx.Err() == nil {
				if total > 0 && sent.Add(1) > total {
					return
				}
				if total <= 0 && !time.Now().Before(deadline) {
					return
				}
				i := seq.Add(1)
				t0 := time.Now()
				callCtx, cancel := context.WithTimeout(ctx, timeout)
				outcome, err := op(callCtx, conn, i)
				cancel()
				r.record(outcome, err, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return r.finish(time.Since(start))
}

// Open schedules requests at a fixed rate for duration, whatever the answers: request k is due
// at start + k/rate, and its latency runs from that scheduled time, so a slow platform cannot
// hide its queueing (no coordinated omission). At most maxInFlight are outstanding; a request
// due beyond that is counted as an error, not silently delayed.
func Open(ctx context.Context, p *Pool, op Op, rate float64, duration time.Duration, maxInFlight int, seq *atomic.Int64, timeout time.Duration) Result {
	r := &recorder{res: Result{Mode: "open", Rate: rate, Connections: p.Size()}}
	n := int64(rate * duration.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for k := int64(0); k < n && ctx.Err() == nil; k++ {
		due := start.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case slots <- struct{}{}:
		default:
			r.record("", errOverload, 0)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			i := seq.Add(1)
			callCtx, cancel := context.WithTimeout(ctx, timeout)
			outcome, err := op(callCtx, p.Conn(int(k)), i)
			cancel()
			r.record(outcome, err, time.Since(due))
		}()
	}
	wg.Wait()
	return r.finish(time.Since(start))
}
