package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/embedded"
	"mercato.dev/services/kit/events/eventstest"
)

func TestRestartKeepsStreamsAndDuplicateWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := embedded.Start(ctx, embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	nc, js := eventstest.Connect(t, s.URL())
	if _, err := events.EnsureStream(ctx, js, events.OrdersStream()); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, events.OrderConfirmed, []byte("1"), jetstream.WithMsgID("event-1")); err != nil {
		t.Fatal(err)
	}

	s.Shutdown()
	s.Shutdown() // idempotent
	s, err = embedded.Start(ctx, embedded.Options{Dir: dir, Port: port})
	if err != nil {
		t.Fatalf("restart on port %d: %v", port, err)
	}
	defer s.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsConnected() { // the client reconnects by itself
		if time.Now().After(deadline) {
			t.Fatal("the client did not reconnect to the restarted server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ack, err := js.Publish(ctx, events.OrderConfirmed, []byte("1"), jetstream.WithMsgID("event-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Error("a republished event was stored again after the restart")
	}
	if n := eventstest.Count(t, js, "ORDERS"); n != 1 {
		t.Errorf("ORDERS holds %d messages after the restart, want 1", n)
	}
}

func TestStartNeedsADirectory(t *testing.T) {
	t.Parallel()
	if _, err := embedded.Start(context.Background(), embedded.Options{}); err == nil {
		t.Fatal("Start without Dir succeeded")
	}
}
