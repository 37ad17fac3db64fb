// Command notifications runs the notifications service: a durable consumer of the order events
// (stream ORDERS) records one notification per event — the stand-in for sending an email — and
// the API serves them to their customer.
package main

import (
	"context"
	"os"

	"mercato.dev/ent/notifications/migrate"
	"mercato.dev/services/kit/service"

	"mercato.dev/services/notifications/internal/notification"
	"mercato.dev/services/notifications/internal/rpc"
	"mercato.dev/services/notifications/internal/store"
)

func main() { os.Exit(service.Main("notifications", setup)) }

// setup wires the database, the use cases, the event consumer and the handler.
func setup(ctx context.Context, rt *service.Runtime) error {
	db, err := rt.OpenDatabase(ctx, migrate.Migrations)
	if err != nil {
		return err
	}
	svc := notification.NewService(store.New(db), nil)
	if err := startConsumer(rt, svc); err != nil {
		return err
	}
	// A deactivated customer's earlier tokens are refused within seconds (package deactivation).
	if err := rt.FollowDeactivations(); err != nil {
		return err
	}
	rpc.Register(rt.Server, svc, rt.Logger)
	return nil
}
