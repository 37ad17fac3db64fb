package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"mercato.dev/ent/dbtest"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/outbox"
)

// BenchmarkRelay measures events/s from committed outbox rows to JetStream acknowledgements
// (claim, publish, mark sent), b.N events per run, against the machine's NATS server.
func BenchmarkRelay(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		for _, batch := range []int{100, 500} {
			b.Run(fmt.Sprintf("%s/batch=%d", db.name, batch), func(b *testing.B) {
				_, js := eventstest.Connect(b, eventstest.URL())
				ns := eventstest.NewNamespace(b, js)
				f := newFixture(b, db.url(b))
				f.insert(b, testEvents(b.N, ns.Subject(events.OrderConfirmed), time.Now())...)
				reg := prometheus.NewRegistry()
				r, err := outbox.NewRelay(f.store, js, outbox.Options{BatchSize: batch, Registerer: reg})
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
}

// BenchmarkDirectPublish is the baseline: the same messages published straight to JetStream,
// asynchronously (as the relay does, without the database) and one at a time.
func BenchmarkDirectPublish(b *testing.B) {
	_, js := eventstest.Connect(b, eventstest.URL())
	ns := eventstest.NewNamespace(b, js)
	subject := ns.Subject(events.OrderConfirmed)
	b.Run("async", func(b *testing.B) {
		evs := testEvents(b.N, subject, time.Now())
		b.ResetTimer()
		for _, ev := range evs {
			if _, err := js.PublishMsgAsync(message(ev), jetstream.WithMsgID(ev.ID)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("acknowledgements missing")
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("sync", func(b *testing.B) {
		evs := testEvents(b.N, subject, time.Now())
		ctx := context.Background()
		b.ResetTimer()
		for _, ev := range evs {
			if _, err := js.PublishMsg(ctx, message(ev), jetstream.WithMsgID(ev.ID)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

func message(ev outbox.Event) *nats.Msg {
	m := nats.NewMsg(ev.Subject)
	m.Data = ev.Payload
	for k, v := range ev.Headers {
		m.Header.Set(k, v)
	}
	return m
}

func findCounter(reg *prometheus.Registry, name string) (prometheus.Collector, error) {
	// The relay registered its counter; registering an identical one returns it.
	err := reg.Register(prometheus.NewCounter(prometheus.CounterOpts{
		Name: name,
		Help: "Outbox events published and acknowledged by JetStream (duplicates included).",
	}))
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return are.ExistingCollector, nil
	}
	return nil, fmt.Errorf("counter %s not registered: %v", name, err)
}
