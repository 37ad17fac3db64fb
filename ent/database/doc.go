// Package database opens a service's own database, SQLite or PostgreSQL, by URL and brings it to
// the latest version of the service's migrations before returning it.
//
// The same ent client runs on both:
//
//	db, err := database.Open(ctx, cfg.DatabaseURL, migrate.Migrations) // mercato.dev/ent/orders/migrate
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//	client := orders.NewClient(orders.Driver(db.Driver()))
//
// SQLite connections use WAL, a 10 s busy timeout, foreign keys and immediate transactions, so
// that writers queue instead of failing with "database is locked". Migrations are goose files
// written by ent's versioned-migration diff (see ent/generate.sh); they never rename or drop
// implicitly. Replicas starting together apply them once: PostgreSQL serialises them with a
// session advisory lock, SQLite with a lock file next to the database.
package database
