package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/ent/dbtest"
	entorders "mercato.dev/ent/orders"
	ordersmigrate "mercato.dev/ent/orders/migrate"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/outbox"
	"mercato.dev/services/kit/service"
	"mercato.dev/services/kit/telemetry"
)

// TestOutboxRelayPublishesCommittedEvents: a service that starts its outbox relay gets every
// event row it commits onto JetStream, with the event ID as the message ID.
func TestOutboxRelayPublishesCommittedEvents(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.Service("orders")})
	broker := eventstest.StartBroker(t, env, "", 0)
	cfg := config.Service{
		Name: "orders", Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", WorkloadAPI: env.Addr,
		DatabaseURL: dbtest.SQLite(t), NATSURL: broker.URL(), DrainTimeout: 5 * time.Second,
	}
	committed := make(chan string, 1)
	setup := func(ctx context.Context, rt *service.Runtime) error {
		db, err := rt.OpenDatabase(ctx, ordersmigrate.Migrations)
		if err != nil {
			return err
		}
		relay, err := rt.StartOutboxRelay(db)
		if err != nil {
			return err
		}
		ev, err := outbox.New(ctx, events.OrderConfirmed, wrapperspb.String("stand-in payload"))
		if err != nil {
			return err
		}
		client := entorders.NewClient(entorders.Driver(db.Driver()))
		if err := client.OutboxEvent.Create().SetID(mustUUID(t, ev.ID)).SetSubject(ev.Subject).SetPayload(ev.Payload).
			SetHeaders(ev.Headers).SetCreateTime(ev.CreateTime).Exec(ctx); err != nil {
			return err
		}
		relay.Notify()
		committed <- ev.ID
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg, func(string) string { return "" }, telemetry.Discard(), setup) }()
	t.Cleanup(func() { cancel(); <-done })
	id := <-committed
	_, js := broker.Inspect(t)
	start := time.Now()
	for time.Since(start) < 20*time.Second {
		if _, err := js.Stream(t.Context(), "ORDERS"); err != nil { // the relay creates it
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if msgs := eventstest.Messages(t, js, "ORDERS"); len(msgs) == 1 {
			if got := msgs[0].Header.Get("Nats-Msg-Id"); got != id {
				t.Fatalf("published with Nats-Msg-Id %q, want the event ID %q", got, id)
			}
			t.Logf("committed → on the stream in %s", time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the committed event did not reach the ORDERS stream within 20s")
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOutboxRelayRefusesABadLinger: <SERVICE>_OUTBOX_LINGER out of range or unparsable stops
// the service at setup, naming the variable.
func TestOutboxRelayRefusesABadLinger(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.Service("orders")})
	for _, v := range []string{"-1ms", "2s", "soon"} {
		t.Run(v, func(t *testing.T) {
			cfg := config.Service{
				Name: "orders", Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", WorkloadAPI: env.Addr,
				DatabaseURL: dbtest.SQLite(t), NATSURL: "tls://127.0.0.1:1", DrainTimeout: time.Second,
			}
			getenv := func(k string) string {
				if k == "ORDERS_OUTBOX_LINGER" {
					return v
				}
				return ""
			}
			setup := func(ctx context.Context, rt *service.Runtime) error {
				db, err := rt.OpenDatabase(ctx, ordersmigrate.Migrations)
				if err != nil {
					return err
				}
				_, err = rt.StartOutboxRelay(db)
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := service.Run(ctx, cfg, getenv, telemetry.Discard(), setup)
			if err == nil || !strings.Contains(err.Error(), "ORDERS_OUTBOX_LINGER") {
				t.Fatalf("Run with ORDERS_OUTBOX_LINGER=%s: %v, want an error naming the variable", v, err)
			}
		})
	}
}
