// Package eventstest gives tests NATS JetStream to work against: connections to the machine's
// NATS server or to an embedded one the test starts and stops itself, and isolated sets of
// streams, so that tests running at once (and a local stack) never see each other's events.
//
// The machine's server is found at MERCATO_TEST_NATS_URL (default nats://127.0.0.1:4222). A
// test that needs it and cannot reach it fails, saying how to start it; it is never skipped.
package eventstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/embedded"
)

// URL is the machine's NATS server: MERCATO_TEST_NATS_URL, or nats://127.0.0.1:4222.
func URL() string {
	if u := os.Getenv("MERCATO_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// Connect connects to url with events.Connect, failing t if the server is not up, and closes
// the connection when t ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js, err := events.Connect(url, t.Name(), nil)
	if err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	t.Cleanup(nc.Close)
	deadline := time.Now().Add(5 * time.Second)
	for !nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatalf("eventstest: NATS with JetStream is needed at %s (start it with "+
				"`nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/nats-server &`, or set MERCATO_TEST_NATS_URL)", url)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nc, js
}

// Embedded starts an embedded NATS server storing under dir (t.TempDir() when empty) on port
// (0: a free one) and shuts it down when t ends.
func Embedded(t testing.TB, dir string, port int) *embedded.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := embedded.Start(ctx, embedded.Options{Dir: dir, Port: port})
	if err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Namespace is a private copy of the platform's streams: the same configuration, unique
// stream names, and subjects under a unique first token instead of "mercato".
type Namespace struct {
	// Prefix replaces "mercato" in every subject.
	Prefix string
	// Orders, Payments and DLQ are the namespace's streams.
	Orders, Payments, DLQ events.StreamConfig
}

// NewNamespace creates a namespace's streams on js and deletes them when t ends.
func NewNamespace(t testing.TB, js jetstream.JetStream) Namespace {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	n := Namespace{Prefix: "t" + id}
	rename := func(c events.StreamConfig) events.StreamConfig {
		c.Name = "T" + strings.ToUpper(id) + "_" + c.Name
		for i, s := range c.Subjects {
			c.Subjects[i] = n.Subject(s)
		}
		return c
	}
	n.Orders, n.Payments, n.DLQ = rename(events.OrdersStream()), rename(events.PaymentsStream()), rename(events.DLQStream())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, n.Orders, n.Payments, n.DLQ); err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range []string{n.Orders.Name, n.Payments.Name, n.DLQ.Name} {
			if err := js.DeleteStream(ctx, s); err != nil && js.Conn().IsConnected() {
				t.Errorf("eventstest: delete stream %s: %v", s, err)
			}
		}
	})
	return n
}

// Subject maps a platform subject ("mercato.orders.v1.confirmed") into the namespace.
func (n Namespace) Subject(s string) string {
	return n.Prefix + strings.TrimPrefix(s, "mercato")
}

// DeadLetterPrefix is the namespace's events.DeadLetterPrefix.
func (n Namespace) DeadLetterPrefix() string { return n.Subject(events.DeadLetterPrefix) }

// Messages returns every message stored in stream, in order.
func Messages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("eventstest: stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("eventstest: stream %s: %v", stream, err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("eventstest: stream %s message %d: %v", stream, seq, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// Count returns the number of messages stored in stream.
func Count(t testing.TB, js jetstream.JetStream, stream string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("eventstest: stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("eventstest: stream %s: %v", stream, err)
	}
	return int(info.State.Msgs)
}
