package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/busauthz"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/embedded"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

var orders = identity.Service("orders")

func TestRestartKeepsStreamsAndDuplicateWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := eventstest.StartBroker(t, kittest.Start(t, []spiffeid.ID{orders}), "", 0)
	nc, js := b.Connect(t, orders)
	if _, err := events.EnsureStream(ctx, js, events.OrdersStream()); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, events.OrderConfirmed, []byte("1"), jetstream.WithMsgID("event-1")); err != nil {
		t.Fatal(err)
	}

	b.Shutdown()
	b.Shutdown() // idempotent
	b.Restart()
	start := time.Now()
	for !nc.IsConnected() { // the client reconnects by itself, with its SVID
		if time.Since(start) > 10*time.Second {
			t.Fatal("the client did not reconnect to the restarted broker within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("reconnected %s after the restart", time.Since(start).Round(time.Millisecond))
	ack, err := js.Publish(ctx, events.OrderConfirmed, []byte("1"), jetstream.WithMsgID("event-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Error("a republished event was stored again after the restart")
	}
	_, inspect := b.Inspect(t)
	if n := eventstest.Count(t, inspect, "ORDERS"); n != 1 {
		t.Errorf("ORDERS holds %d messages after the restart, want 1", n)
	}
}

// TestBusAuthz runs the attacks of eventstest.CheckBusAuthz on the broker code in-process (the
// broker binary's test and the e2e platform test run them on the processes).
func TestBusAuthz(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{orders})
	eventstest.CheckBusAuthz(t, env, eventstest.StartBroker(t, env, "", 0).URL())
}

// TestEachIdentityDoesItsJob: every grant of the platform's table is enough for what the
// identity does — producers ensure their streams and publish, consumers ensure the DLQ, read
// with their durable, acknowledge and dead-letter.
func TestEachIdentityDoesItsJob(t *testing.T) {
	t.Parallel()
	table := busauthz.Platform()
	env := kittest.Start(t, table.IDs())
	b := eventstest.StartBroker(t, env, "", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	produce := map[string]string{"ORDERS": events.OrderConfirmed, "PAYMENTS": events.PaymentAuthorized, "CUSTOMERS": "mercato.customers.v1.deactivated"}
	for _, id := range table.IDs() { // producers first: their streams must exist for consumers
		g := table[id]
		_, js := b.Connect(t, id)
		if err := events.EnsureStreams(ctx, js, events.StreamsOf(id)...); err != nil {
			t.Fatalf("%s ensures %v: %v", id, g.Streams, err)
		}
		for _, s := range g.Streams {
			if subj, ok := produce[s]; ok {
				if _, err := js.Publish(ctx, subj, []byte("x"), jetstream.WithMsgID(s+"-1")); err != nil {
					t.Fatalf("%s publishes %s: %v", id, subj, err)
				}
			}
		}
	}
	_, inspect := b.Inspect(t)
	dead := 0
	for _, id := range table.IDs() {
		_, js := b.Connect(t, id)
		for _, c := range table[id].Consumers {
			got := make(chan events.Message, 1)
			cctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- events.Consume(cctx, js, events.ConsumerConfig{Stream: c.Stream, Durable: c.Durable, MaxDeliver: 1},
					func(_ context.Context, m events.Message) error { got <- m; return events.Permanent(context.Canceled) })
			}()
			select {
			case m := <-got:
				if m.ID != c.Stream+"-1" {
					t.Errorf("%s consumer %s got %s", id, c.Durable, m.ID)
				}
			case err := <-done:
				t.Fatalf("%s consumer %s on %s: %v", id, c.Durable, c.Stream, err)
			case <-time.After(20 * time.Second):
				t.Fatalf("%s consumer %s on %s got nothing within 20s", id, c.Durable, c.Stream)
			}
			dead++
			start := time.Now()
			for eventstest.Count(t, inspect, "DLQ") != dead { // the consumer dead-letters it
				if time.Since(start) > 20*time.Second {
					t.Fatalf("%s consumer %s: DLQ holds %d dead letters after 20s, want %d", id, c.Durable, eventstest.Count(t, inspect, "DLQ"), dead)
				}
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("%s consumer %s: %v", id, c.Durable, err)
			}
		}
	}
}

// TestClosesConnectionsWhoseSVIDExpired: a client that never reconnects (unlike events.Connect)
// keeps no access past its SVID's expiry: the broker closes the connection.
func TestClosesConnectionsWhoseSVIDExpired(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	env := kittest.Start(t, []spiffeid.ID{orders}, kittest.WithSVIDTTL(ttl))
	b := eventstest.StartBroker(t, env, "", 0)
	src := env.Source(t, orders)
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Time, 1)
	nc, err := nats.Connect(b.URL(), nats.Secure(identity.ClientTLS(src, identity.Broker)), nats.NoReconnect(),
		nats.CustomInboxPrefix(busauthz.InboxPrefix(orders)), nats.ClosedHandler(func(*nats.Conn) { closed <- time.Now() }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	expiry := svid.Certificates[0].NotAfter
	select {
	case at := <-closed:
		if at.Before(expiry) {
			t.Fatalf("closed %s before the SVID expired", expiry.Sub(at))
		}
		t.Logf("closed %s after the SVID expired (sweep every second)", at.Sub(expiry).Round(time.Millisecond))
	case <-time.After(time.Until(expiry) + 10*time.Second):
		t.Fatal("the connection outlived its SVID by 10s")
	}
}

func TestStartNeedsADirectoryAndASource(t *testing.T) {
	t.Parallel()
	if _, err := embedded.Start(context.Background(), embedded.Options{}); err == nil {
		t.Fatal("Start without Dir succeeded")
	}
	if _, err := embedded.Start(context.Background(), embedded.Options{Dir: t.TempDir()}); err == nil {
		t.Fatal("Start without an SVID source succeeded: the broker must never serve plaintext")
	}
}
