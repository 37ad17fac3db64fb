// Command inventory serves the InventoryService: the product catalog, prices, stock, and the
// stock reservations of orders. Configuration comes from the environment (see the kit's config
// package): INVENTORY_ADDR, INVENTORY_ADMIN_ADDR, INVENTORY_DATABASE_URL, MERCATO_DATA,
// SPIFFE_ENDPOINT_SOCKET, LOG_LEVEL, DRAIN_TIMEOUT.
package main

import (
	"context"
	"os"

	ent "mercato.dev/ent/inventory"
	"mercato.dev/ent/inventory/migrate"
	"mercato.dev/services/inventory/internal/rpc"
	"mercato.dev/services/inventory/internal/stock"
	"mercato.dev/services/inventory/internal/store"
	"mercato.dev/services/kit/service"
)

func main() { os.Exit(service.Main("inventory", setup)) }

// setup opens and migrates the database and mounts the service with its authorization rules.
func setup(ctx context.Context, rt *service.Runtime) error {
	db, err := rt.OpenDatabase(ctx, migrate.Migrations)
	if err != nil {
		return err
	}
	drv := db.Driver()
	client := ent.NewClient(ent.Driver(drv))
	// A deactivated customer's earlier tokens are refused within seconds (package deactivation).
	if err := rt.FollowDeactivations(); err != nil {
		return err
	}
	rpc.Register(rt.Server, rpc.New(stock.New(store.New(client, store.WithDriver(drv))), rt.Logger))
	return nil
}
