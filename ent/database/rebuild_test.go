package database_test

import (
	"io/fs"
	"strings"
	"testing"

	customersmigrate "mercato.dev/ent/customers/migrate"
	inventorymigrate "mercato.dev/ent/inventory/migrate"
	notificationsmigrate "mercato.dev/ent/notifications/migrate"
	ordersmigrate "mercato.dev/ent/orders/migrate"
	paymentsmigrate "mercato.dev/ent/payments/migrate"
)

// reviewedRebuild marks a SQLite migration whose table rebuild someone has checked for data loss.
const reviewedRebuild = "-- mercato: table rebuild reviewed"

// TestNoUnreviewedSQLiteTableRebuilds: Atlas answers many SQLite schema changes with a table
// rebuild (create new_x, copy, DROP TABLE x, rename). Inside goose's transaction
// `PRAGMA foreign_keys = off` does nothing, so DROP TABLE runs with foreign keys enforced and
// ON DELETE CASCADE children (order_items of orders) are deleted on upgrade. Every migration
// after the first must add columns in place, or carry the reviewed marker.
func TestNoUnreviewedSQLiteTableRebuilds(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fs.FS{
		"customers": customersmigrate.Migrations, "inventory": inventorymigrate.Migrations,
		"orders": ordersmigrate.Migrations, "payments": paymentsmigrate.Migrations,
		"notifications": notificationsmigrate.Migrations,
	} {
		files, err := fs.Glob(fsys, "sqlite/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			if i == 0 {
				continue // the initial schema creates tables; there is nothing to lose
			}
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				t.Fatal(err)
			}
			up, _, _ := strings.Cut(string(b), "-- +goose Down")
			if strings.Contains(up, "DROP TABLE") && !strings.Contains(up, reviewedRebuild) {
				t.Errorf("%s %s rebuilds a table (DROP TABLE) under enforced foreign keys: write the change in place, or review it for cascading deletes and mark it %q", name, f, reviewedRebuild)
			}
		}
	}
}
