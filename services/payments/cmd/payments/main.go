// Command payments serves the PaymentService: a deterministic stand-in for a card processor that
// authorizes and voids order payments, announcing each change (PaymentAuthorized,
// PaymentDeclined, PaymentVoided) through a transactional outbox relayed to NATS JetStream.
// Configuration comes from the environment (see the kit's config package): PAYMENTS_ADDR,
// PAYMENTS_ADMIN_ADDR, PAYMENTS_DATABASE_URL, NATS_URL, MERCATO_DATA, SPIFFE_ENDPOINT_SOCKET,
// LOG_LEVEL, DRAIN_TIMEOUT; and PAYMENTS_OUTBOX_LEASE, PAYMENTS_OUTBOX_LINGER (25ms here; see the
// README).
package main

import (
	"context"
	"os"
	"time"

	ent "mercato.dev/ent/payments"
	"mercato.dev/ent/payments/migrate"
	"mercato.dev/services/kit/service"
	"mercato.dev/services/payments/internal/payment"
	"mercato.dev/services/payments/internal/rpc"
	"mercato.dev/services/payments/internal/store"
)

func main() { os.Exit(service.Main("payments", setup)) }

// setup opens and migrates the database, starts the outbox relay and mounts the service with
// its authorization rules.
func setup(ctx context.Context, rt *service.Runtime) error {
	db, err := rt.OpenDatabase(ctx, migrate.Migrations)
	if err != nil {
		return err
	}
	// Broker down: events wait in the outbox, the service keeps serving. Nothing in a request's
	// path waits for a payment event, so the relay gathers 25 ms of them per batch: each batch
	// costs two transactions (a fifth of payments' CPU per order at 350 orders/s with 5 ms).
	relay, err := rt.StartOutboxRelay(db, service.DefaultLinger(25*time.Millisecond))
	if err != nil {
		return err
	}
	client := ent.NewClient(ent.Driver(db.Driver()))
	// A deactivated customer's earlier tokens are refused within seconds (package deactivation).
	if err := rt.FollowDeactivations(); err != nil {
		return err
	}
	st, err := store.New(client, db.Dialect(), store.WithNotify(relay.Notify))
	if err != nil {
		return err
	}
	rpc.Register(rt.Server, rpc.New(payment.New(st), rt.Logger))
	return nil
}
