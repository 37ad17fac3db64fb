package main_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/notifications/migrate"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/outbox"
)

// BenchmarkConsume measures the consumer's throughput: b.N OrderConfirmed events, published at
// once to the platform's broker (mTLS) as orders, consumed by the real binary into PostgreSQL (one notification
// each). Reports events/s.
func BenchmarkConsume(b *testing.B) {
	env := kittest.Start(b, []spiffeid.ID{identity.Edge})
	broker := eventstest.StartBroker(b, env, "", 0)
	url := dbtest.Postgres(b)
	env.StartService(b, "notifications", kittest.Build(b, "mercato.dev/services/notifications/cmd/notifications"), map[string]string{
		"NOTIFICATIONS_DATABASE_URL": url, "NATS_URL": broker.URL(), "LOG_LEVEL": "warn",
	})
	db := dbtest.Open(b, url, migrate.Migrations).SQL()
	_, js := broker.Connect(b, identity.Service("orders"))
	if err := events.EnsureStreams(b.Context(), js, events.StreamsOf(identity.Service("orders"))...); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*nats.Msg, b.N)
	ids := make([]string, b.N)
	for i := range msgs {
		ev, err := outbox.New(b.Context(), events.OrderConfirmed, &ordersv1.OrderConfirmed{
			OrderId: uuid.NewString(), CustomerId: uuid.NewString(), PaymentId: uuid.NewString(),
			Items: []*ordersv1.OrderItem{{ProductId: uuid.NewString(), Quantity: 1}},
			Total: &moneyv1.Money{AmountMinor: 1000, Currency: "EUR"},
		})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = nats.NewMsg(ev.Subject)
		msgs[i].Data = ev.Payload
		ids[i] = ev.ID
	}
	b.ResetTimer()
	start := time.Now()
	for i, m := range msgs {
		if _, err := js.PublishMsgAsync(m, jetstream.WithMsgID(ids[i])); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	for n := 0; n < b.N; {
		if time.Since(start) > time.Minute {
			b.Fatalf("%d of %d events consumed after a minute", n, b.N)
		}
		time.Sleep(5 * time.Millisecond)
		if err := db.QueryRowContext(b.Context(), `SELECT COUNT(*) FROM notifications`).Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
