// Command notifications runs the notifications service: the notifications recorded for order
// events, readable by their customer (the event consumer that records them comes later).
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

// setup wires the database, the use cases and the handler.
func setup(ctx context.Context, rt *service.Runtime) error {
	db, err := rt.OpenDatabase(ctx, migrate.Migrations)
	if err != nil {
		return err
	}
	svc := notification.NewService(store.New(db), nil)
	rpc.Register(rt.Server, svc, rt.Logger)
	return nil
}
