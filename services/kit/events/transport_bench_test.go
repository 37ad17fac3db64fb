package events_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// BenchmarkConsumeTransport measures a durable consumer (events.Consume, a handler that only
// counts) reading b.N stored events, against the platform's broker, mTLS with per-identity
// permissions, the consumer reading as notifications (transport=mtls), beside the same
// in-process nats-server without TLS or authentication (transport=plain, the baseline).
// Reports events/s.
func BenchmarkConsumeTransport(b *testing.B) {
	orders, notifications := identity.Service("orders"), identity.Service("notifications")
	for _, tr := range []struct {
		name    string
		connect func(b *testing.B) (producer, consumer jetstream.JetStream)
	}{
		{"plain", func(b *testing.B) (jetstream.JetStream, jetstream.JetStream) {
			nc, err := nats.Connect(eventstest.PlainBaseline(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			js, _ := jetstream.New(nc)
			return js, js
		}},
		{"mtls", func(b *testing.B) (jetstream.JetStream, jetstream.JetStream) {
			broker := eventstest.StartBroker(b, kittest.Start(b, []spiffeid.ID{orders, notifications}), "", 0)
			_, p := broker.Connect(b, orders)
			_, c := broker.Connect(b, notifications)
			return p, c
		}},
	} {
		b.Run("transport="+tr.name, func(b *testing.B) {
			producer, consumer := tr.connect(b)
			ctx := context.Background()
			if err := events.EnsureStreams(ctx, producer, events.StreamsOf(orders)...); err != nil {
				b.Fatal(err)
			}
			for i := range b.N {
				if _, err := producer.PublishAsync(events.OrderConfirmed, []byte("x"), jetstream.WithMsgID(fmt.Sprint("e", i))); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 999 || i == b.N-1 { // below the client's limit of pending acknowledgements
					select {
					case <-producer.PublishAsyncComplete():
					case <-time.After(time.Minute):
						b.Fatal("acknowledgements missing after a minute")
					}
				}
			}
			var n atomic.Int64
			done := make(chan struct{})
			b.ResetTimer()
			stop := consume(b, consumer, events.ConsumerConfig{Stream: "ORDERS", Durable: "notifications"}, func(context.Context, events.Message) error {
				if n.Add(1) == int64(b.N) {
					close(done)
				}
				return nil
			})
			select {
			case <-done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d events consumed after 5 minutes", n.Load(), b.N)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			_ = stop()
		})
	}
}
