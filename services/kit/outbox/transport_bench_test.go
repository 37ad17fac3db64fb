package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/outbox"
)

// BenchmarkRelayTransport measures the relay (SQLite outbox → JetStream acknowledgements,
// batches of 100) against the platform's broker, mTLS with per-identity permissions and the
// relay publishing as orders (transport=mtls), beside the same in-process nats-server without
// TLS or authentication (transport=plain, the baseline). Reports events/s; the ratio is the
// price of the bus's trust model.
func BenchmarkRelayTransport(b *testing.B) {
	for _, tr := range []struct {
		name    string
		connect func(b *testing.B) jetstream.JetStream
	}{
		{"plain", func(b *testing.B) jetstream.JetStream {
			nc, err := nats.Connect(eventstest.PlainBaseline(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			js, _ := jetstream.New(nc)
			return js
		}},
		{"mtls", func(b *testing.B) jetstream.JetStream {
			broker := eventstest.StartBroker(b, kittest.Start(b, []spiffeid.ID{asOrders}), "", 0)
			_, js := broker.Connect(b, asOrders)
			return js
		}},
	} {
		b.Run("transport="+tr.name, func(b *testing.B) {
			js := tr.connect(b)
			if err := events.EnsureStreams(context.Background(), js, events.StreamsOf(asOrders)...); err != nil {
				b.Fatal(err)
			}
			f := newFixture(b, dbtest.SQLite(b))
			f.insert(b, testEvents(b.N, events.OrderConfirmed, time.Now())...)
			reg := prometheus.NewRegistry()
			r, err := outbox.NewRelay(f.store, js, outbox.Options{BatchSize: 100, Registerer: reg})
			if err != nil {
				b.Fatal(err)
			}
			published, err := findCounter(reg, "outbox_published_total")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.ResetTimer()
			go func() { _ = r.Run(ctx) }()
			for testutil.ToFloat64(published) < float64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
