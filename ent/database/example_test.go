package database_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"mercato.dev/ent/database"
	"mercato.dev/ent/orders"
	"mercato.dev/ent/orders/migrate"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// In a service the URL comes from configuration, e.g. ORDERS_DATABASE_URL.
	db, err := database.Open(ctx, "sqlite://"+filepath.Join(dir, "orders.db"), migrate.Migrations)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	client := orders.NewClient(orders.Driver(db.Driver()))

	n, err := client.Order.Query().Count(ctx)
	fmt.Println(db.Dialect(), n, err)
	// Output: sqlite3 0 <nil>
}
