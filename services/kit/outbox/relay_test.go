package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders/outboxevent"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/outbox"
)

// relayMetrics reads a relay's metrics from its registry.
type relayMetrics struct{ reg *prometheus.Registry }

func (m relayMetrics) value(t *testing.T, name string) float64 {
	t.Helper()
	n, err := testutil.GatherAndCount(m.reg, name)
	if err != nil || n != 1 {
		t.Fatalf("metric %s: %d series, %v", name, n, err)
	}
	mfs, _ := m.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			if g := mf.GetMetric()[0].GetGauge(); g != nil {
				return g.GetValue()
			}
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// logBuffer collects a relay's log records.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// startRelay runs a relay until t ends and returns it with its metrics.
func startRelay(t *testing.T, store outbox.Store, js jetstream.JetStream, opts outbox.Options) (*outbox.Relay, relayMetrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	r, err := outbox.NewRelay(store, js, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	return r, relayMetrics{reg}
}

// waitUntil polls cond every 5 ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// assertStreamHoldsOnce checks that stream holds each event exactly once, by Nats-Msg-Id.
func assertStreamHoldsOnce(t *testing.T, js jetstream.JetStream, stream string, want []string) {
	t.Helper()
	msgs := eventstest.Messages(t, js, stream)
	got := make([]string, len(msgs))
	for i, m := range msgs {
		got[i] = m.Header.Get(jetstream.MsgIDHeader)
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("stream %s holds %d messages, want each of %d events once", stream, len(got), len(want))
	}
}

func TestRelayPublishesEventsWithTheirHeaders(t *testing.T) {
	t.Parallel()
	_, js := eventstest.Connect(t, eventstest.URL())
	ns := eventstest.NewNamespace(t, js)
	f := newFixture(t, dbtest.SQLite(t))
	// Polling is off: only Notify wakes the relay once it has found the table empty.
	r, m := startRelay(t, f.store, js, outbox.Options{PollInterval: time.Hour})
	time.Sleep(50 * time.Millisecond)

	ctx, sc := tracedContext()
	var evs []outbox.Event
	for _, msg := range []*ordersv1.OrderConfirmed{{OrderId: "a"}, {OrderId: "b"}, {OrderId: "c"}} {
		ev, err := outbox.New(ctx, ns.Subject(events.OrderConfirmed), msg)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	f.insert(t, evs...)
	r.Notify()
	latency := waitUntil(t, 5*time.Second, "the events", func() bool { return eventstest.Count(t, js, ns.Orders.Name) == 3 })
	t.Logf("commit → stored in JetStream after Notify: %s", latency)

	for i, msg := range eventstest.Messages(t, js, ns.Orders.Name) {
		ev := evs[i]
		if msg.Subject != ev.Subject || !bytes.Equal(msg.Data, ev.Payload) ||
			msg.Header.Get(jetstream.MsgIDHeader) != ev.ID ||
			msg.Header.Get("traceparent") != "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01" ||
			msg.Header.Get(events.HeaderEventType) != "mercato.orders.v1.OrderConfirmed" {
			t.Errorf("message %d = %s %v, want event %+v", i, msg.Subject, msg.Header, ev)
		}
	}
	waitUntil(t, 5*time.Second, "rows marked sent", func() bool { return f.unsent(t) == 0 })
	if got := m.value(t, "outbox_published_total"); got != 3 {
		t.Errorf("published counter = %v, want 3", got)
	}
}

func TestTwoRelaysShareOnePostgresOutbox(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("scenario test: runs without -short")
	}
	_, js := eventstest.Connect(t, eventstest.URL())
	ns := eventstest.NewNamespace(t, js)
	f := newFixture(t, dbtest.Postgres(t))
	evs := testEvents(1000, ns.Subject(events.OrderConfirmed), time.Now())
	f.insert(t, evs...)

	_, a := startRelay(t, f.store, js, outbox.Options{Owner: "relay-a", BatchSize: 50})
	_, b := startRelay(t, f.store, js, outbox.Options{Owner: "relay-b", BatchSize: 50})
	took := waitUntil(t, 60*time.Second, "every row sent", func() bool { return f.unsent(t) == 0 })

	assertStreamHoldsOnce(t, js, ns.Orders.Name, ids(evs))
	pa, pb := a.value(t, "outbox_published_total"), b.value(t, "outbox_published_total")
	t.Logf("1000 events through two relays in %s (%.0f events/s): relay-a published %v, relay-b %v, duplicates %v",
		took, 1000/took.Seconds(), pa, pb, a.value(t, "outbox_publish_duplicates_total")+b.value(t, "outbox_publish_duplicates_total"))
	if pa+pb < 1000 {
		t.Errorf("the relays acknowledged %v publishes, want at least 1000", pa+pb)
	}
	sentBy := map[string]int{}
	rows, err := f.client.OutboxEvent.Query().All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Status != outboxevent.StatusSent || r.SentTime == nil {
			t.Fatalf("row %s is %s", r.ID, r.Status)
		}
		sentBy[r.ClaimedBy]++
	}
	t.Logf("rows sent by owner: %v", sentBy)
}

func TestRelayRetriesUntilTheBrokerReturns(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("scenario test: runs without -short")
	}
	// The platform's broker (mTLS), the relay publishing as orders.
	srv := eventstest.StartBroker(t, kittest.Start(t, []spiffeid.ID{asOrders}), "", 0)
	nc, js := srv.Connect(t, asOrders)
	ensureOrdersStreams(t, js)
	f := newFixture(t, dbtest.SQLite(t))
	logs := &logBuffer{}
	// The broker stops while the relay is publishing a backlog: right after its third claim.
	var claims atomic.Int32
	store := hookedStore{Store: f.store, afterClaim: func([]outbox.Event) {
		if claims.Add(1) == 3 {
			srv.Shutdown()
		}
	}}
	r, m := startRelay(t, store, js, outbox.Options{
		BacklogInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	subject := events.OrderConfirmed

	before := testEvents(3000, subject, time.Now())
	f.insert(t, before...)
	r.Notify()
	waitUntil(t, 10*time.Second, "the disconnection", func() bool { return !nc.IsConnected() })
	waitUntil(t, 10*time.Second, "the failed batch released", func() bool { return m.value(t, "outbox_publish_errors_total") > 0 })
	stranded := f.unsent(t)

	// ...and stays down while the service commits more.
	during := testEvents(200, subject, time.Now())
	f.insert(t, during...)
	r.Notify()
	waitUntil(t, 15*time.Second, "three failed attempts", func() bool { return logs.count("retrying") >= 3 })
	unsent := f.unsent(t)
	if unsent < 200 {
		t.Fatalf("%d events unsent during the outage, want the 200 committed since kept", unsent)
	}
	waitUntil(t, 5*time.Second, "the backlog gauge", func() bool { return m.value(t, "outbox_backlog_events") == float64(unsent) })
	if age := m.value(t, "outbox_oldest_pending_age_seconds"); age <= 0 {
		t.Errorf("oldest pending age = %v during the outage", age)
	}

	srv.Restart() // the same store and port, where the client reconnects
	drain := waitUntil(t, 30*time.Second, "the backlog to drain", func() bool { return f.unsent(t) == 0 })
	t.Logf("outage: %d of 3000 events unsent when the broker stopped, %d after 200 more; %d failed attempts logged; "+
		"drained %s after the broker restarted (backoff cap 5 s); publish errors %v, duplicates dropped %v",
		stranded, unsent, logs.count("retrying"), drain,
		m.value(t, "outbox_publish_errors_total"), m.value(t, "outbox_publish_duplicates_total"))
	_, inspect := srv.Inspect(t)
	assertStreamHoldsOnce(t, inspect, "ORDERS", append(ids(before), ids(during)...))
}

// asOrders is the identity relays publish with on the platform's broker.
var asOrders = identity.Service("orders")

// ensureOrdersStreams creates the streams orders owns (ORDERS, DLQ), as its relay does.
func ensureOrdersStreams(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, events.StreamsOf(asOrders)...); err != nil {
		t.Fatal(err)
	}
}

// hookedStore calls afterClaim with every non-empty claim.
type hookedStore struct {
	outbox.Store
	afterClaim func([]outbox.Event)
}

func (s hookedStore) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]outbox.Event, error) {
	evs, err := s.Store.Claim(ctx, owner, limit, lease)
	if len(evs) > 0 {
		s.afterClaim(evs)
	}
	return evs, err
}

func TestRelayRetriesEventsNoStreamAccepts(t *testing.T) {
	t.Parallel()
	_, js := eventstest.Connect(t, eventstest.URL())
	ns := eventstest.NewNamespace(t, js)
	f := newFixture(t, dbtest.SQLite(t))
	_, m := startRelay(t, f.store, js, outbox.Options{
		PublishTimeout: 500 * time.Millisecond, Lease: time.Second, MaxBackoff: 200 * time.Millisecond,
	})
	lost := eventstest.Namespace{Prefix: ns.Prefix + "x"} // no stream captures its subjects yet
	evs := testEvents(5, lost.Subject(events.OrderConfirmed), time.Now())
	f.insert(t, evs...)

	waitUntil(t, 10*time.Second, "failed publishes", func() bool { return m.value(t, "outbox_publish_errors_total") >= 10 })
	if n := f.unsent(t); n != 5 {
		t.Fatalf("%d of 5 unpublishable events kept", n)
	}
	if r := f.row(t, evs[0].ID); r.Attempts < 2 {
		t.Errorf("attempts = %d, want the event retried", r.Attempts)
	}
	stream := events.StreamConfig{Name: ns.Orders.Name + "_LATE", Subjects: []string{lost.Prefix + ".>"}}
	if _, err := events.EnsureStream(context.Background(), js, stream); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream.Name) })
	waitUntil(t, 10*time.Second, "the events once a stream accepts them", func() bool { return f.unsent(t) == 0 })
	assertStreamHoldsOnce(t, js, stream.Name, ids(evs))
}

func TestRelayCrashBetweenPublishAndMarkSent(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("scenario test: runs without -short")
	}
	bin := kittest.Build(t, "mercato.dev/services/kit/outbox/internal/crashrelay", "faultinject")
	// The platform's broker (mTLS); the crashing relay and the survivor publish as orders.
	env := kittest.Start(t, []spiffeid.ID{asOrders})
	env.Register(asOrders, bin)
	broker := eventstest.StartBroker(t, env, "", 0)
	_, js := broker.Connect(t, asOrders)
	ensureOrdersStreams(t, js)
	_, inspect := broker.Inspect(t)
	// Two relay processes share the database: PostgreSQL (a SQLite database is held by one
	// process at a time).
	url := dbtest.Postgres(t)
	f := newFixture(t, url)
	evs := testEvents(40, events.OrderConfirmed, time.Now())
	f.insert(t, evs...)

	const lease = 2 * time.Second
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "OUTBOX_FAULT=kill-after-publish", "CRASHRELAY_DATABASE_URL="+url,
		"CRASHRELAY_NATS_URL="+broker.URL(), "SPIFFE_ENDPOINT_SOCKET="+env.Addr, "CRASHRELAY_OWNER=crashed", "CRASHRELAY_LEASE="+lease.String())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("crashrelay did not die by SIGKILL: %v\n%s", err, out)
	}
	crashedAt := time.Now()
	if n := eventstest.Count(t, inspect, "ORDERS"); n != len(evs) {
		t.Fatalf("the crashed relay published %d events, want %d", n, len(evs))
	}
	for _, ev := range evs {
		if r := f.row(t, ev.ID); r.Status != outboxevent.StatusClaimed || r.ClaimedBy != "crashed" {
			t.Fatalf("row %s after the crash: %s by %q, want claimed by the crashed relay", ev.ID, r.Status, r.ClaimedBy)
		}
	}

	// A surviving relay takes the rows over when the lease expires and publishes them again:
	// JetStream drops every copy as a duplicate.
	_, m := startRelay(t, f.store, js, outbox.Options{Owner: "survivor"})
	waitUntil(t, 15*time.Second, "the take-over", func() bool { return f.unsent(t) == 0 })
	if took := time.Since(crashedAt); took < lease-200*time.Millisecond {
		t.Errorf("rows taken over after %s, before the %s lease expired", took, lease)
	}
	assertStreamHoldsOnce(t, inspect, "ORDERS", ids(evs))
	if d := m.value(t, "outbox_publish_duplicates_total"); d != float64(len(evs)) {
		t.Errorf("duplicates = %v, want every republished event (%d) dropped by JetStream", d, len(evs))
	}
}

// countingStore counts the claims that returned events.
type countingStore struct {
	outbox.Store
	batches atomic.Int32
}

func (s *countingStore) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]outbox.Event, error) {
	evs, err := s.Store.Claim(ctx, owner, limit, lease)
	if len(evs) > 0 {
		s.batches.Add(1)
	}
	return evs, err
}

// Commits notified one after another while the relay lingers go out in one batch (one claim
// and one mark for all of them), instead of a batch each.
func TestRelayLingersToBatchNotifiedCommits(t *testing.T) {
	t.Parallel()
	_, js := eventstest.Connect(t, eventstest.URL())
	ns := eventstest.NewNamespace(t, js)
	f := newFixture(t, dbtest.SQLite(t))
	store := &countingStore{Store: f.store}
	const linger = time.Second // far longer than five commits take, however loaded the machine
	r, _ := startRelay(t, store, js, outbox.Options{PollInterval: time.Hour, Linger: linger})
	time.Sleep(50 * time.Millisecond)

	evs := testEvents(5, ns.Subject(events.OrderConfirmed), time.Now())
	start := time.Now()
	for _, ev := range evs {
		f.insert(t, ev)
		r.Notify()
	}
	committed := time.Since(start)
	waitUntil(t, 10*time.Second, "the events", func() bool { return eventstest.Count(t, js, ns.Orders.Name) == len(evs) })
	t.Logf("5 commits in %s, published in %d batch(es)", committed, store.batches.Load())
	if committed < linger && store.batches.Load() != 1 {
		t.Errorf("5 commits notified within the linger went out in %d batches, want 1", store.batches.Load())
	}
}
