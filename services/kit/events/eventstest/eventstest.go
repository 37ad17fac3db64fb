// Package eventstest gives tests NATS JetStream to work against: the platform's broker (package
// events/embedded: mTLS with SPIFFE SVIDs, per-identity permissions) started in the test process
// under a kittest issuer, connections to it as any identity, and isolated sets of streams, so
// that tests running at once (and a local stack) never see each other's events. Tests of the
// consumer's behaviour on an older server also run against the machine's NATS (plaintext,
// test-only, never a platform component).
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

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/busauthz"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/embedded"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// Inspector is the test process's own identity on a test broker: it may publish and subscribe
// to everything (Broker adds it as an extra user; the platform's table and the broker binary
// know nothing of it).
var Inspector = spiffeid.RequireFromPath(identity.TrustDomain, "/test/inspector")

// URL is the machine's NATS server: MERCATO_TEST_NATS_URL, or nats://127.0.0.1:4222.
func URL() string {
	if u := os.Getenv("MERCATO_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// Connect connects to the machine's NATS server at url, without TLS (it is a test fixture,
// never a platform component), failing t if it is not up, and closes the connection when t
// ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	return wrap(t, nc, url)
}

// wrap waits until nc is connected, and closes it when t ends.
func wrap(t testing.TB, nc *nats.Conn, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	start := time.Now()
	for !nc.IsConnected() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("eventstest: not connected to %s after %s (for the machine's NATS, start it with "+
				"`nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/nats-server &`, or set MERCATO_TEST_NATS_URL); last error: %v",
				url, time.Since(start).Round(time.Millisecond), nc.LastError())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nc, js
}

// Broker is the platform's broker running in the test process under env's issuer, with the
// broker's SVID, the platform's permission table and the Inspector.
type Broker struct {
	*embedded.Server
	Env *kittest.Env
	Dir string
	t   testing.TB
}

// StartBroker starts a broker storing under dir (t.TempDir() when empty) on port (0: a free
// one) and shuts it down when t ends. The test executable is granted the broker's and the
// Inspector's identities.
func StartBroker(t testing.TB, env *kittest.Env, dir string, port int) *Broker {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	env.Grant(identity.Broker, Inspector)
	b := &Broker{Env: env, Dir: dir, t: t}
	b.start(port)
	return b
}

func (b *Broker) start(port int) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := embedded.Start(ctx, embedded.Options{
		Dir: b.Dir, Port: port, Source: b.Env.Source(b.t, identity.Broker),
		Extra: map[spiffeid.ID]busauthz.Permissions{Inspector: {Publish: []string{">"}, Subscribe: []string{">"}}},
	})
	if err != nil {
		b.t.Fatalf("eventstest: %v", err)
	}
	b.Server = s
	b.t.Cleanup(s.Shutdown)
}

// Restart starts the broker again on the same store and port (after Shutdown), where its
// clients reconnect.
func (b *Broker) Restart() {
	b.t.Helper()
	b.start(b.Port())
}

// Connect connects to the broker with events.Connect as id (an SVID from the broker's issuer,
// which must know the test executable under id: kittest.Start's IDs, Env.Grant), failing t if
// no connection is up within 10 s, and closes it when t ends.
func (b *Broker) Connect(t testing.TB, id spiffeid.ID) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	b.Env.Grant(id)
	nc, _, err := events.Connect(b.URL(), t.Name(), b.Env.Source(t, id), nil)
	if err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	return wrap(t, nc, b.URL())
}

// Inspect connects as the Inspector, which may do anything.
func (b *Broker) Inspect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return b.Connect(t, Inspector)
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

// PlainBaseline starts a NATS server with JetStream without TLS or authentication, in the test
// process, and returns its URL: only for benchmarks that show what mTLS and permissions cost
// beside it. The platform never runs one.
func PlainBaseline(tb testing.TB) string {
	tb.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: tb.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		tb.Fatalf("eventstest: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("eventstest: baseline server not ready after 10s")
	}
	tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}
