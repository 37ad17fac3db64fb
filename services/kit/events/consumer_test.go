package events_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/kittest"
)

// broker is a NATS server a consumer test runs against.
type broker struct {
	js      jetstream.JetStream
	ns      eventstest.Namespace
	connect func(t testing.TB) (*nats.Conn, jetstream.JetStream) // another connection
}

// eachBroker runs fn against the machine's NATS server (an older nats-server, plaintext) and
// against the platform's broker (mTLS, the test connecting as eventstest.Inspector), so that
// the consumer behaves the same on both.
func eachBroker(t *testing.T, fn func(t *testing.T, b broker)) {
	t.Helper()
	run := func(t *testing.T, connect func(t testing.TB) (*nats.Conn, jetstream.JetStream)) {
		_, js := connect(t)
		fn(t, broker{js: js, ns: eventstest.NewNamespace(t, js), connect: connect})
	}
	t.Run("machine", func(t *testing.T) {
		t.Parallel()
		run(t, func(t testing.TB) (*nats.Conn, jetstream.JetStream) { return eventstest.Connect(t, eventstest.URL()) })
	})
	t.Run("broker", func(t *testing.T) {
		t.Parallel()
		b := eventstest.StartBroker(t, kittest.Start(t, []spiffeid.ID{eventstest.Inspector}), "", 0)
		run(t, b.Inspect)
	})
}

// publish stores one event with its ID and the trace context of ctx.
func publish(ctx context.Context, t *testing.T, js jetstream.JetStream, subject, id, payload string) uint64 {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = []byte(payload)
	msg.Header.Set(events.HeaderEventType, "test.v1.Event")
	otel.GetTextMapPropagator().Inject(ctx, events.HeaderCarrier(msg.Header))
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	if err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	return ack.Sequence
}

// consume runs events.Consume until the returned stop is called (or t ends) and returns
// Consume's error through stop.
func consume(t testing.TB, js jetstream.JetStream, cfg events.ConsumerConfig, h events.Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- events.Consume(ctx, js, cfg, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// consumerIdle reports whether the durable consumer has nothing pending or unacknowledged.
func consumerIdle(t *testing.T, b broker, durable string) bool {
	t.Helper()
	c, err := b.js.Consumer(context.Background(), b.ns.Orders.Name, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
}

func traced() (context.Context, trace.TraceID) {
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc), tid
}

func TestConsumerRedeliversFailuresUntilSuccess(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b broker) {
		ctx, traceID := traced()
		subject := b.ns.Subject(events.OrderConfirmed)
		seq := publish(ctx, t, b.js, subject, "0192f0c4-0000-7000-8000-000000000001", "payload")

		reg := prometheus.NewRegistry()
		var mu sync.Mutex
		var deliveries []int
		done := make(chan events.Message, 1)
		var gotTrace trace.TraceID
		consume(t, b.js, events.ConsumerConfig{
			Stream: b.ns.Orders.Name, Durable: "retry", Backoff: []time.Duration{20 * time.Millisecond},
			DeadLetterPrefix: b.ns.DeadLetterPrefix(), Registerer: reg,
		}, func(ctx context.Context, m events.Message) error {
			mu.Lock()
			deliveries = append(deliveries, m.Delivery)
			n := len(deliveries)
			mu.Unlock()
			switch n {
			case 1:
				return errors.New("database unavailable")
			case 2:
				panic("handler bug")
			}
			gotTrace = trace.SpanContextFromContext(ctx).TraceID()
			done <- m
			return nil
		})

		var m events.Message
		select {
		case m = <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("the handler never succeeded")
		}
		if m.ID != "0192f0c4-0000-7000-8000-000000000001" || m.Subject != subject || string(m.Payload) != "payload" ||
			m.Sequence != seq || m.Type != "test.v1.Event" || m.Stream != b.ns.Orders.Name {
			t.Errorf("message = %+v", m)
		}
		if gotTrace != traceID {
			t.Errorf("handler trace ID = %s, want the producer's %s", gotTrace, traceID)
		}
		mu.Lock()
		if want := []int{1, 2, 3}; !slices.Equal(deliveries, want) {
			t.Errorf("deliveries = %v, want %v", deliveries, want)
		}
		mu.Unlock()
		waitFor(t, "the ack", func() bool { return consumerIdle(t, b, "retry") })
		if h, f := counter(t, reg, "events_handled_total"), counter(t, reg, "events_failed_total"); h != 1 || f != 2 {
			t.Errorf("handled %v, failed %v; want 1, 2", h, f)
		}
	})
}

func TestConsumerDeadLettersPoisonAndKeepsFlowing(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b broker) {
		ctx, _ := traced()
		subject := b.ns.Subject(events.OrderRejected)
		poisonSeq := publish(ctx, t, b.js, subject, "poison", "\xff not protobuf")
		stuckSeq := publish(ctx, t, b.js, subject, "stuck", "x")
		for i := range 3 {
			publish(ctx, t, b.js, subject, "ok-"+strconv.Itoa(i), "x")
		}

		reg := prometheus.NewRegistry()
		var mu sync.Mutex
		handled := map[string]bool{}
		consume(t, b.js, events.ConsumerConfig{
			Stream: b.ns.Orders.Name, Durable: "dlq", MaxDeliver: 3, Backoff: []time.Duration{20 * time.Millisecond},
			DeadLetterPrefix: b.ns.DeadLetterPrefix(), Registerer: reg,
		}, func(ctx context.Context, m events.Message) error {
			switch m.ID {
			case "poison":
				return events.Permanent(errors.New("unparsable payload"))
			case "stuck":
				return errors.New("inventory says no")
			}
			mu.Lock()
			handled[m.ID] = true
			mu.Unlock()
			return nil
		})

		waitFor(t, "two dead letters", func() bool { return eventstest.Count(t, b.js, b.ns.DLQ.Name) == 2 })
		waitFor(t, "the consumer to settle", func() bool { return consumerIdle(t, b, "dlq") })
		mu.Lock()
		if len(handled) != 3 {
			t.Errorf("handled %v, want the 3 good messages", handled)
		}
		mu.Unlock()

		want := map[string]struct {
			reason     string
			seq        uint64
			deliveries string
		}{
			"poison": {"unparsable payload", poisonSeq, "1"},
			"stuck":  {"inventory says no", stuckSeq, "3"},
		}
		for _, dl := range eventstest.Messages(t, b.js, b.ns.DLQ.Name) {
			id := dl.Header.Get(events.HeaderEventID)
			w, ok := want[id]
			if !ok {
				t.Errorf("unexpected dead letter %q", id)
				continue
			}
			delete(want, id)
			if dl.Subject != b.ns.DeadLetterPrefix()+subject {
				t.Errorf("%s: dead-letter subject %s", id, dl.Subject)
			}
			if got := dl.Header.Get(events.HeaderDLQReason); !strings.Contains(got, w.reason) {
				t.Errorf("%s: reason %q, want %q", id, got, w.reason)
			}
			if dl.Header.Get(events.HeaderDLQSubject) != subject || dl.Header.Get(events.HeaderDLQStream) != b.ns.Orders.Name ||
				dl.Header.Get(events.HeaderDLQSequence) != strconv.FormatUint(w.seq, 10) ||
				dl.Header.Get(events.HeaderDLQDeliveries) != w.deliveries || dl.Header.Get(events.HeaderDLQConsumer) != "dlq" {
				t.Errorf("%s: dead-letter headers %v", id, dl.Header)
			}
			if dl.Header.Get("traceparent") == "" || dl.Header.Get(events.HeaderEventType) != "test.v1.Event" {
				t.Errorf("%s: the original headers were not kept: %v", id, dl.Header)
			}
		}
		if len(want) != 0 {
			t.Errorf("missing dead letters: %v", want)
		}
		if n := counter(t, reg, "events_dead_lettered_total"); n != 2 {
			t.Errorf("dead-lettered counter = %v, want 2", n)
		}
	})
}

func TestConsumerRedeliversWhenHandlerInterrupted(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b broker) {
		publish(context.Background(), t, b.js, b.ns.Subject(events.OrderCanceled), "interrupted", "x")
		cfg := events.ConsumerConfig{
			Stream: b.ns.Orders.Name, Durable: "interrupt", AckWait: 2 * time.Second,
			DeadLetterPrefix: b.ns.DeadLetterPrefix(),
		}

		// A handler cut short by shutdown does not get its message acknowledged...
		started := make(chan struct{})
		stop := consume(t, b.js, cfg, func(ctx context.Context, m events.Message) error {
			close(started)
			<-ctx.Done() // e.g. a transaction interrupted mid-way
			return ctx.Err()
		})
		<-started
		if err := stop(); err != nil {
			t.Fatalf("Consume: %v", err)
		}

		// ...so the next consumer gets it again: at once, as the interrupted consumer gave it
		// back, or, should that nak be lost (nats-server 2.9 may hand it to the stopped
		// consumer's pull request still waiting on the server), after the ack wait.
		got := make(chan events.Message, 1)
		start := time.Now()
		consume(t, b.js, cfg, func(ctx context.Context, m events.Message) error { got <- m; return nil })
		select {
		case m := <-got:
			// nats-server 2.9 rolls a nak of the last delivered message back, delivery count
			// included; later servers count it.
			if m.ID != "interrupted" || m.Delivery < 1 {
				t.Errorf("redelivered %s as delivery %d, want interrupted", m.ID, m.Delivery)
			}
			t.Logf("redelivered after %s as delivery %d", time.Since(start).Round(time.Millisecond), m.Delivery)
		case <-time.After(10 * time.Second):
			t.Fatal("the interrupted message was not redelivered")
		}
		waitFor(t, "the ack", func() bool { return consumerIdle(t, b, "interrupt") })
	})
}

func TestConsumerRedeliversAfterCrash(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b broker) {
		publish(context.Background(), t, b.js, b.ns.Subject(events.OrderConfirmed), "crash", "x")
		cfg := events.ConsumerConfig{
			Stream: b.ns.Orders.Name, Durable: "crash", AckWait: time.Second, MaxDeliver: 2,
			DeadLetterPrefix: b.ns.DeadLetterPrefix(),
		}
		// The process dies while the handler runs: neither ack nor nak reaches the broker.
		crash := func(t *testing.T) {
			nc, js := b.connect(t)
			started := make(chan struct{})
			release := make(chan struct{})
			consume(t, js, cfg, func(ctx context.Context, m events.Message) error {
				close(started)
				<-release
				return nil // its ack is lost with the connection
			})
			<-started
			nc.Close()
			close(release)
		}
		crash(t)

		got := make(chan events.Message, 2)
		consume(t, b.js, cfg, func(ctx context.Context, m events.Message) error { got <- m; return nil })
		select {
		case m := <-got:
			if m.ID != "crash" || m.Delivery != 2 {
				t.Errorf("redelivered %s as delivery %d, want crash as 2", m.ID, m.Delivery)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the message was not redelivered after the ack wait")
		}
		waitFor(t, "the ack", func() bool { return eventstest.Count(t, b.js, b.ns.DLQ.Name) == 0 && consumerIdleAcked(t, b, "crash") })
	})
}

func TestConsumerDeadLettersAfterCrashOnLastDelivery(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b broker) {
		publish(context.Background(), t, b.js, b.ns.Subject(events.OrderConfirmed), "crash-loop", "x")
		cfg := events.ConsumerConfig{
			Stream: b.ns.Orders.Name, Durable: "crashloop", AckWait: time.Second, MaxDeliver: 1,
			DeadLetterPrefix: b.ns.DeadLetterPrefix(),
		}
		nc, js := b.connect(t)
		started := make(chan struct{})
		consume(t, js, cfg, func(ctx context.Context, m events.Message) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		<-started
		nc.Close() // the one allowed attempt never finishes

		called := make(chan struct{}, 1)
		consume(t, b.js, cfg, func(ctx context.Context, m events.Message) error { called <- struct{}{}; return nil })
		waitFor(t, "the dead letter", func() bool { return eventstest.Count(t, b.js, b.ns.DLQ.Name) == 1 })
		select {
		case <-called:
			t.Error("the handler ran beyond MaxDeliver")
		default:
		}
		dl := eventstest.Messages(t, b.js, b.ns.DLQ.Name)[0]
		if !strings.Contains(dl.Header.Get(events.HeaderDLQReason), "no handler result") {
			t.Errorf("reason = %q", dl.Header.Get(events.HeaderDLQReason))
		}
	})
}

func TestConsumeNeedsADeadLetterStream(t *testing.T) {
	t.Parallel()
	_, js := eventstest.Connect(t, eventstest.URL())
	ns := eventstest.NewNamespace(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := events.Consume(ctx, js, events.ConsumerConfig{
		Stream: ns.Orders.Name, Durable: "nodlq", DeadLetterPrefix: ns.Prefix + ".nowhere.",
	}, func(context.Context, events.Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "dead-letter subjects") {
		t.Fatalf("Consume without a dead-letter stream: %v", err)
	}
}

// consumerIdleAcked reports whether the consumer has acknowledged everything it was given.
func consumerIdleAcked(t *testing.T, b broker, durable string) bool {
	t.Helper()
	c, err := b.js.Consumer(context.Background(), b.ns.Orders.Name, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestConsumerStartsBeforeTheBroker(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{eventstest.Inspector})
	b := eventstest.StartBroker(t, env, "", 0)
	b.Shutdown()

	nc, js, err := events.Connect(b.URL(), t.Name(), env.Source(t, eventstest.Inspector), nil) // the broker is down
	if err != nil {
		t.Fatalf("Connect while the broker is down: %v", err)
	}
	t.Cleanup(nc.Close)
	streams := []events.StreamConfig{events.OrdersStream(), events.DLQStream()}
	got := make(chan events.Message, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if err := events.EnsureStreamsRetry(ctx, js, nil, streams...); err != nil {
			done <- err
			return
		}
		done <- events.Consume(ctx, js, events.ConsumerConfig{Stream: "ORDERS", Durable: "early"},
			func(ctx context.Context, m events.Message) error { got <- m; return nil })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Consume: %v", err)
		}
	})
	time.Sleep(300 * time.Millisecond)

	b.Restart()
	waitFor(t, "the reconnection", nc.IsConnected)
	waitFor(t, "the streams", func() bool {
		_, err := js.Stream(context.Background(), "DLQ")
		return err == nil
	})
	publish(context.Background(), t, js, events.OrderConfirmed, "early-1", "x")
	select {
	case m := <-got:
		if m.ID != "early-1" {
			t.Errorf("got %s", m.ID)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the consumer started before the broker never consumed")
	}
}
