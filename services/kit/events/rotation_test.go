package events_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// TestConnectionsFollowSVIDRotation: a producer (orders) publishes an event every 20 ms, retrying
// each until it is acknowledged as the outbox relay does, and a durable consumer (notifications)
// records them, both connected to the platform's broker with SVIDs living 3 s, across several
// rotations and one CA rotation. Each connection is retired and made again with the current
// SVID before the one it was made with expires; every event is stored once and consumed. The
// log reports, per rotation, the time from the producer receiving a new SVID to its first
// publish acknowledged over a connection made with it.
func TestConnectionsFollowSVIDRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s rotation soak; runs in the full suite")
	}
	t.Parallel()
	const (
		ttl      = 3 * time.Second
		duration = 15 * time.Second
	)
	orders, notifications := identity.Service("orders"), identity.Service("notifications")
	env := kittest.Start(t, []spiffeid.ID{orders, notifications}, kittest.WithSVIDTTL(ttl))
	b := eventstest.StartBroker(t, env, "", 0)
	src := env.Source(t, orders)
	nc, js, err := events.Connect(b.URL(), "producer", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(t.Context(), duration+30*time.Second)
	defer cancel()
	if err := events.EnsureStreamsRetry(ctx, js, nil, events.StreamsOf(orders)...); err != nil {
		t.Fatal(err)
	}
	_, cjs := b.Connect(t, notifications)
	if err := events.EnsureStreams(ctx, cjs, events.StreamsOf(notifications)...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	handled := map[string]int{}
	consume(t, cjs, events.ConsumerConfig{Stream: "ORDERS", Durable: "notifications", AckWait: 2 * time.Second},
		func(_ context.Context, m events.Message) error {
			mu.Lock()
			handled[m.ID]++
			mu.Unlock()
			return nil
		})

	svids := watchSVIDs(src)                                // fingerprint → when the producer got it
	conns := watchConns(b.NATS(), "producer", svids.expiry) // fingerprint → first seen on the broker
	rotateCA := time.AfterFunc(duration/3, func() {         // a new root, published before it signs
		if err := env.Issuer.RotateCA(); err != nil {
			t.Errorf("rotate CA: %v", err)
		}
	})
	defer rotateCA.Stop()
	var acks []time.Time
	var published []string
	start := time.Now()
	for i := 0; time.Since(start) < duration; i++ {
		id := fmt.Sprintf("rot-%05d", i)
		for { // retried until acknowledged, as the outbox relay does
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.Publish(pctx, events.OrderConfirmed, []byte(id), jetstream.WithMsgID(id))
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("event %s never acknowledged: %v", id, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		acks = append(acks, time.Now())
		published = append(published, id)
		time.Sleep(20 * time.Millisecond)
	}
	conns.stop()

	_, inspect := b.Inspect(t)
	if n := eventstest.Count(t, inspect, "ORDERS"); n != len(published) {
		t.Errorf("ORDERS holds %d events, want the %d published, once each", n, len(published))
	}
	waitFor(t, "every event consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == len(published)
	})
	redelivered := 0
	mu.Lock()
	for _, id := range published {
		redelivered += handled[id] - 1
	}
	mu.Unlock()

	// Per producer SVID: when the source got it → when the broker first saw a connection made
	// with it → the first acknowledged publish after that.
	var pickups []time.Duration
	cas := map[string]bool{}
	for _, s := range svids.list() {
		seen, ok := conns.first(s.fp)
		if !ok || s.at.IsZero() {
			continue
		}
		cas[s.ca] = true
		i, _ := slices.BinarySearchFunc(acks, seen, func(a, b time.Time) int { return a.Compare(b) })
		if i < len(acks) && s.at.After(start) {
			pickups = append(pickups, acks[i].Sub(s.at))
		}
	}
	slices.Sort(pickups)
	retired := conns.count()
	t.Logf("%d events published in %s, all stored once and consumed (%d redeliveries); producer connections with distinct SVIDs: %d, signed by %d CAs",
		len(published), duration, redelivered, retired, len(cas))
	t.Logf("SVID received by the producer → first publish acknowledged over a connection made with it: %v", round(pickups))
	if retired < 4 {
		t.Errorf("the producer connected with %d distinct SVIDs in %s with a %s TTL: connections are not retired", retired, duration, ttl)
	}
	if len(cas) < 2 {
		t.Error("no producer connection was made with an SVID of the rotated CA")
	}
	if late := conns.expiredUse(); late != "" {
		t.Error(late)
	}
	if len(pickups) == 0 || pickups[len(pickups)-1] > ttl {
		t.Errorf("rotation → first publish over a new connection: %v, want every one within the %s TTL", pickups, ttl)
	}
}

func round(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond).String()
	}
	return out
}

// svidWatch records when a source received each SVID, by the SHA-256 of its certificate.
type svidWatch struct {
	mu   sync.Mutex
	seen []svidSeen
}

type svidSeen struct {
	fp       string
	at       time.Time
	notAfter time.Time
	ca       string // authority key ID: which root signed it
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func watchSVIDs(src interface {
	Updated() <-chan struct{}
	identity.Source
}) *svidWatch {
	w := &svidWatch{}
	record := func() {
		if svid, err := src.GetX509SVID(); err == nil {
			fp := fingerprint(svid.Certificates[0].Raw)
			w.mu.Lock()
			if !slices.ContainsFunc(w.seen, func(s svidSeen) bool { return s.fp == fp }) {
				w.seen = append(w.seen, svidSeen{fp: fp, at: time.Now(), notAfter: svid.Certificates[0].NotAfter, ca: string(svid.Certificates[0].AuthorityKeyId)})
			}
			w.mu.Unlock()
		}
	}
	record()
	go func() {
		for range src.Updated() {
			record()
		}
	}()
	return w
}

// expiry is when the SVID with fingerprint fp expires.
func (w *svidWatch) expiry(fp string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.seen {
		if s.fp == fp {
			return s.notAfter, true
		}
	}
	return time.Time{}, false
}

func (w *svidWatch) list() []svidSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

// connWatch polls the broker's connections every 5 ms and records when a client named name
// was first seen with each certificate, and whether one was seen after its certificate expired.
type connWatch struct {
	mu   sync.Mutex
	seen map[string]time.Time
	late string
	done chan struct{}
	wg   sync.WaitGroup
}

func watchConns(ns *server.Server, name string, expiry func(fp string) (time.Time, bool)) *connWatch {
	w := &connWatch{seen: map[string]time.Time{}, done: make(chan struct{})}
	w.wg.Go(func() {
		for {
			select {
			case <-w.done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			connz, err := ns.Connz(&server.ConnzOptions{Username: true})
			if err != nil {
				continue
			}
			now := time.Now()
			for _, c := range connz.Conns {
				if c.Name != name || len(c.TLSPeerCerts) == 0 {
					continue
				}
				fp := c.TLSPeerCerts[0].CertSha256
				w.mu.Lock()
				if _, ok := w.seen[fp]; !ok {
					w.seen[fp] = now
				}
				if exp, ok := expiry(fp); ok && now.After(exp) && w.late == "" {
					w.late = fmt.Sprintf("a producer connection was still open %s after its SVID expired", now.Sub(exp).Round(time.Millisecond))
				}
				w.mu.Unlock()
			}
		}
	})
	return w
}

func (w *connWatch) stop() { close(w.done); w.wg.Wait() }

func (w *connWatch) first(fp string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.seen[fp]
	return at, ok
}

func (w *connWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

func (w *connWatch) expiredUse() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.late
}
