package outbox_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"mercato.dev/ent/database"
	"mercato.dev/ent/orders"
	ordersmigrate "mercato.dev/ent/orders/migrate"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/outbox"
)

// A service writes the event in the transaction of the state change it announces, and wakes
// its relay once the transaction has committed.
func Example() {
	ctx := context.Background()
	db, err := database.Open(ctx, "sqlite:///tmp/mercato-example/orders.db", ordersmigrate.Migrations)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	client := orders.NewClient(orders.Driver(db.Driver()))

	// At start-up: the broker connection, the streams, and the relay as a background loop.
	src, err := workloadapi.NewX509Source(ctx) // the SVID, from SPIFFE_ENDPOINT_SOCKET
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	nc, js, err := events.Connect(events.DefaultURL, "orders", src, slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	if err := events.EnsureStreams(ctx, js, events.StreamsOf(identity.Service("orders"))...); err != nil {
		log.Fatal(err)
	}
	store, err := outbox.NewSQLStore(db.SQL(), db.Dialect(), "outbox_events")
	if err != nil {
		log.Fatal(err)
	}
	relay, err := outbox.NewRelay(store, js, outbox.Options{Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = relay.Run(ctx) }()

	// In a use case: the state change and its event commit together.
	tx, err := client.Tx(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// ... tx.Order.UpdateOneID(id).SetStatus(order.StatusConfirmed).Exec(ctx) ...
	ev, err := outbox.New(ctx, events.OrderConfirmed, &ordersv1.OrderConfirmed{OrderId: uuid.NewString()})
	if err != nil {
		log.Fatal(err)
	}
	err = tx.OutboxEvent.Create().
		SetID(uuid.MustParse(ev.ID)).SetSubject(ev.Subject).SetPayload(ev.Payload).
		SetHeaders(ev.Headers).SetCreateTime(ev.CreateTime).
		Exec(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	relay.Notify()
}
