package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Options tunes a Relay; zero fields take the defaults in brackets.
type Options struct {
	// Owner names this relay in claimed_by [host-pid-random]. Relays sharing a table need
	// distinct owners.
	Owner string
	// BatchSize is how many events one claim takes [100].
	BatchSize int
	// Lease is how long a claim lasts before another relay may take the events over [30 s].
	// It must exceed PublishTimeout, and a lease plus the retries after it should fit within
	// the stream's duplicate window (events.DefaultDuplicates, 2 min) so that a republish after
	// a crash is dropped by JetStream.
	Lease time.Duration
	// PollInterval is how often an idle relay looks for events nobody notified it of [200 ms].
	PollInterval time.Duration
	// Linger is how long an idle relay woken by Notify waits before it claims, so that the events
	// committed meanwhile go out in the same batch [5 ms]. Each batch costs two transactions (the
	// claim and the mark) whatever its size: under load a short linger divides that cost by the
	// batch size, for a few milliseconds of latency. Negative: none.
	Linger time.Duration
	// PublishTimeout bounds the wait for JetStream's acknowledgement of one publish [5 s].
	PublishTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered exponential delay between attempts while
	// the broker or the database fails [100 ms, 5 s].
	MinBackoff, MaxBackoff time.Duration
	// BacklogInterval is how often the backlog gauges are refreshed [5 s].
	BacklogInterval time.Duration
	// KeepSent, when positive, deletes sent events older than it, hourly, if the store can
	// (SQLStore can). Zero keeps them.
	KeepSent time.Duration
	// Logger receives the relay's records [none].
	Logger *slog.Logger
	// Registerer receives the relay's metrics [none].
	Registerer prometheus.Registerer
}

func (o Options) withDefaults() (Options, error) {
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = host + "-" + strconv.Itoa(os.Getpid()) + "-" + uuid.NewString()[:8]
	}
	setDefault(&o.BatchSize, 100)
	setDefault(&o.Lease, 30*time.Second)
	setDefault(&o.PollInterval, 200*time.Millisecond)
	if o.Linger == 0 {
		o.Linger = 5 * time.Millisecond
	}
	setDefault(&o.PublishTimeout, 5*time.Second)
	setDefault(&o.MinBackoff, 100*time.Millisecond)
	setDefault(&o.MaxBackoff, 5*time.Second)
	setDefault(&o.BacklogInterval, 5*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Lease <= o.PublishTimeout {
		return o, fmt.Errorf("outbox: lease %s must exceed the publish timeout %s", o.Lease, o.PublishTimeout)
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	return o, nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Relay publishes a Store's events to JetStream.
type Relay struct {
	store   Store
	nc      *nats.Conn
	pub     jetstream.JetStream
	opts    Options
	log     *slog.Logger
	metrics *relayMetrics
	wake    chan struct{}
}

// Purger is a Store that can delete sent events (SQLStore).
type Purger interface {
	DeleteSent(ctx context.Context, before time.Time) (int, error)
}

// NewRelay returns a relay from store to the JetStream of js. It publishes through its own
// asynchronous publisher on js's connection, whose acknowledgement timeout is
// opts.PublishTimeout.
func NewRelay(store Store, js jetstream.JetStream, opts Options) (*Relay, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	nc := js.Conn()
	pub, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(opts.PublishTimeout),
		jetstream.WithPublishAsyncMaxPending(max(2*opts.BatchSize, 256)))
	if err != nil {
		return nil, fmt.Errorf("outbox: publisher: %w", err)
	}
	return &Relay{
		store: store, nc: nc, pub: pub, opts: opts,
		log:     opts.Logger.With("relay", opts.Owner),
		metrics: newRelayMetrics(opts.Registerer),
		wake:    make(chan struct{}, 1),
	}, nil
}

// Owner is the relay's claimed_by name.
func (r *Relay) Owner() string { return r.opts.Owner }

// Notify wakes the relay at once, without waiting for its poll interval: call it after
// committing a transaction that wrote outbox events. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays events until ctx is done, then returns nil. It claims a batch, publishes each
// event with its ID as Nats-Msg-Id, marks the acknowledged ones sent and releases the others.
// While the broker or the database fails it retries with jittered exponential backoff, never
// dropping or skipping an event. A full batch is followed at once by the next; otherwise the
// relay waits for Notify or the poll interval.
func (r *Relay) Run(ctx context.Context) error {
	r.log.Info("outbox relay started", "batch", r.opts.BatchSize, "lease", r.opts.Lease.String())
	var failures int
	var nextBacklog, nextPurge time.Time
	for {
		if now := time.Now(); !now.Before(nextBacklog) {
			r.refreshBacklog(ctx)
			nextBacklog = now.Add(r.opts.BacklogInterval)
		}
		if now := time.Now(); r.opts.KeepSent > 0 && !now.Before(nextPurge) {
			r.purge(ctx)
			nextPurge = now.Add(time.Hour)
		}
		n, err := r.relayBatch(ctx)
		if ctx.Err() != nil {
			r.log.Info("outbox relay stopped")
			return nil
		}
		if err != nil {
			failures++
			delay := r.backoff(failures)
			r.log.Warn("outbox relay failed; retrying", "error", err.Error(), "failures", failures, "delay", delay.String())
			if !r.pause(ctx, delay) {
				return nil
			}
			continue
		}
		if failures > 0 {
			r.log.Info("outbox relay recovered", "failures", failures)
			failures = 0
		}
		if n < r.opts.BatchSize && !r.idle(ctx) {
			r.log.Info("outbox relay stopped")
			return nil
		}
	}
}

// errBrokerDown says that the connection is not up; the relay claims nothing meanwhile.
var errBrokerDown = errors.New("broker not connected")

// relayBatch claims, publishes and settles one batch and returns its size.
func (r *Relay) relayBatch(ctx context.Context) (int, error) {
	if !r.nc.IsConnected() {
		return 0, fmt.Errorf("%w (%s)", errBrokerDown, r.nc.Status())
	}
	evs, err := r.store.Claim(ctx, r.opts.Owner, r.opts.BatchSize, r.opts.Lease)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	sent, failed, perr := r.publish(ctx, evs)
	faultAfterPublish()
	// Settle even when ctx ends now: what was published should be marked so.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.settle(sctx, sent, failed); err != nil {
		return len(evs), err
	}
	if perr != nil {
		return len(evs), fmt.Errorf("publish %d of %d events: %w", len(failed), len(evs), perr)
	}
	r.log.Debug("outbox batch published", "events", len(sent))
	return len(evs), nil
}

// settle marks the published events sent and releases the others. Events it cannot settle
// stay claimed until their lease expires, then are republished (and deduplicated).
func (r *Relay) settle(ctx context.Context, sent, failed []string) error {
	if len(sent) > 0 {
		n, err := r.store.MarkSent(ctx, r.opts.Owner, sent)
		if err != nil {
			return err
		}
		if n < len(sent) {
			r.log.Warn("lease lost before marking sent; another relay republishes them, deduplicated",
				"events", len(sent)-n)
		}
	}
	if len(failed) > 0 {
		return r.store.Release(ctx, r.opts.Owner, failed)
	}
	return nil
}

// publish sends the events asynchronously, in order, then waits for their acknowledgements.
// It returns the IDs acknowledged, the IDs not acknowledged, and the first error.
func (r *Relay) publish(ctx context.Context, evs []Event) (sent, failed []string, first error) {
	fail := func(id string, err error) {
		failed = append(failed, id)
		if first == nil {
			first = err
		}
		r.metrics.errors.Inc()
	}
	futures := make([]jetstream.PubAckFuture, len(evs))
	spans, acked := make([]trace.Span, len(evs)), make([]bool, len(evs))
	defer endSpans(spans, acked)
	for i, ev := range evs {
		msg := &nats.Msg{Subject: ev.Subject, Data: ev.Payload, Header: make(nats.Header, len(ev.Headers)+1)}
		for k, v := range ev.Headers {
			msg.Header.Set(k, v)
		}
		spans[i] = startPublishSpan(ctx, ev, msg.Header)
		f, err := r.pub.PublishMsgAsync(msg, jetstream.WithMsgID(ev.ID))
		if err != nil {
			fail(ev.ID, fmt.Errorf("%s: %w", ev.Subject, err))
			continue
		}
		futures[i] = f
	}
	// The publisher times each acknowledgement out; this deadline is a safety net.
	wctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout+time.Second)
	defer cancel()
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			sent, acked[i] = append(sent, evs[i].ID), true
			r.metrics.published.Inc()
			if ack.Duplicate {
				r.metrics.duplicates.Inc()
			}
		case err := <-f.Err():
			fail(evs[i].ID, fmt.Errorf("%s: %w", evs[i].Subject, err))
		case <-wctx.Done():
			fail(evs[i].ID, fmt.Errorf("%s: waiting for the acknowledgement: %w", evs[i].Subject, wctx.Err()))
		}
	}
	return sent, failed, first
}

// idle waits for Notify (then Linger more), the poll interval or the end of ctx, and reports
// whether ctx is still live.
func (r *Relay) idle(ctx context.Context) bool {
	t := time.NewTimer(r.opts.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-r.wake:
		if r.opts.Linger > 0 {
			t.Reset(r.opts.Linger)
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
			}
		}
	case <-t.C:
	}
	return true
}

// refreshBacklog updates the backlog gauges.
func (r *Relay) refreshBacklog(ctx context.Context) {
	n, oldest, err := r.store.Backlog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("outbox backlog", "error", err.Error())
		}
		return
	}
	r.metrics.backlog.Set(float64(n))
	age := 0.0
	if !oldest.IsZero() {
		age = max(time.Since(oldest).Seconds(), 0)
	}
	r.metrics.oldestAge.Set(age)
}

// purge deletes sent events older than KeepSent.
func (r *Relay) purge(ctx context.Context) {
	p, ok := r.store.(Purger)
	if !ok {
		return
	}
	n, err := p.DeleteSent(ctx, time.Now().Add(-r.opts.KeepSent))
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("outbox purge", "error", err.Error())
	case n > 0:
		r.log.Info("outbox purged sent events", "events", n)
	}
}

// backoff is the delay after the given number of consecutive failures: exponential from
// MinBackoff, capped at MaxBackoff, jittered over its upper half.
func (r *Relay) backoff(failures int) time.Duration {
	d := r.opts.MinBackoff
	for i := 1; i < failures && d < r.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// pause waits out a failure's backoff, or less when Notify wakes the relay (the broker
// reconnected, or a commit wrote events); false once ctx is done.
func (r *Relay) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-r.wake:
	}
	return true
}
