package events_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/protobuf/proto"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/identity"
)

// A service consumes order events with a durable consumer. The handler records its effect
// and the event ID in one transaction, and treats an event ID it has already recorded as done.
func ExampleConsume() {
	ctx := context.Background()
	// The SVID comes from the Workload API (SPIFFE_ENDPOINT_SOCKET).
	src, err := workloadapi.NewX509Source(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	nc, js, err := events.Connect(events.DefaultURL, "notifications", src, slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	// The streams the table lets notifications create: the dead-letter stream.
	if err := events.EnsureStreams(ctx, js, events.StreamsOf(identity.Service("notifications"))...); err != nil {
		log.Fatal(err)
	}
	err = events.Consume(ctx, js, events.ConsumerConfig{
		Stream:         "ORDERS",
		Durable:        "notifications",
		FilterSubjects: []string{events.OrderEvents},
		Logger:         slog.Default(),
	}, func(ctx context.Context, m events.Message) error {
		var ev ordersv1.OrderConfirmed
		switch m.Subject {
		case events.OrderConfirmed:
			if err := proto.Unmarshal(m.Payload, &ev); err != nil {
				return events.Permanent(fmt.Errorf("decode %s: %w", m.Type, err))
			}
		default:
			return nil // not an event this service acts on
		}
		return recordNotification(ctx, m.ID, &ev)
	})
	if err != nil {
		log.Fatal(err)
	}
}

// recordNotification stands for the service's store: in one transaction it inserts the
// notification with eventID as its unique event ID; a unique-constraint violation means the
// event was handled already, and is not an error.
func recordNotification(ctx context.Context, eventID string, ev *ordersv1.OrderConfirmed) error {
	return nil
}
