package database_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"

	"mercato.dev/ent/database"
	"mercato.dev/ent/dbtest"
	orders "mercato.dev/ent/orders/migrate"
)

// TestOpenConcurrently opens one fresh database from four goroutines at once, as replicas
// starting together do: every Open succeeds and each migration is applied exactly once.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const replicas = 4
		var (
			wg   sync.WaitGroup
			dbs  [replicas]*database.DB
			errs [replicas]error
		)
		for i := range replicas {
			wg.Go(func() { dbs[i], errs[i] = database.Open(t.Context(), url, orders.Migrations) })
		}
		wg.Wait()
		for i := range replicas {
			if errs[i] != nil {
				t.Fatalf("replica %d: %v", i, errs[i])
			}
			t.Cleanup(func() { _ = dbs[i].Close() })
		}
		db := dbs[0]
		var applied int
		err := db.SQL().QueryRowContext(t.Context(),
			`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied)
		if err != nil {
			t.Fatal(err)
		}
		if want := migrationFiles(t, db.Dialect()); applied != want {
			t.Errorf("goose_db_version has %d applied migrations, want %d (one per file)", applied, want)
		}
	})
}

func migrationFiles(t *testing.T, d string) int {
	t.Helper()
	dir := database.SQLiteDir
	if d == dialect.Postgres {
		dir = database.PostgresDir
	}
	files, err := fs.Glob(orders.Migrations, dir+"/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in %s: %v", dir, err)
	}
	return len(files)
}

// TestOpenAgain reopens a migrated database: nothing is left to apply and the data stays.
func TestOpenAgain(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		first := dbtest.Open(t, url, orders.Migrations)
		if _, err := first.SQL().ExecContext(ctx, `DELETE FROM outbox_events`); err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		second := dbtest.Open(t, url, orders.Migrations)
		if err := second.SQL().PingContext(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSQLiteSettings checks the connection settings that let SQLite writers queue.
func TestSQLiteSettings(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.SQLite(t), orders.Migrations)
	if db.Dialect() != dialect.SQLite {
		t.Fatalf("dialect %q, want %q", db.Dialect(), dialect.SQLite)
	}
	for pool, sqldb := range map[string]*sql.DB{"write": db.SQL(), "read": db.ReadSQL()} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"busy_timeout": "10000",
			"foreign_keys": "1",
			"synchronous":  "1", // NORMAL
			"query_only":   map[string]string{"write": "0", "read": "1"}[pool],
		} {
			var got string
			if err := sqldb.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s pool: PRAGMA %s = %q, want %q", pool, pragma, got, want)
			}
		}
	}
	// The write connection leaves checkpoints to the background checkpointer up to 16,384 pages.
	var pages string
	if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil || pages != "16384" {
		t.Errorf("write pool: PRAGMA wal_autocheckpoint = %q (%v), want 16384", pages, err)
	}
	if db.SQL().Stats().MaxOpenConnections != 1 {
		t.Errorf("write pool allows %d connections, want 1", db.SQL().Stats().MaxOpenConnections)
	}
	// The read pool refuses writes.
	if _, err := db.ReadSQL().ExecContext(t.Context(), `DELETE FROM outbox_events`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name, url string
		file      string // the SQLite file Open must create
	}{
		{"sqlite absolute", "sqlite://" + filepath.Join(dir, "abs", "a.db"), filepath.Join(dir, "abs", "a.db")},
		{"sqlite relative", "sqlite://rel/b.db", filepath.Join(dir, "rel", "b.db")},
		{"bare path", "data/c.db", filepath.Join(dir, "data", "c.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := dbtest.Open(t, tt.url, orders.Migrations)
			if db.Dialect() != dialect.SQLite {
				t.Errorf("dialect %q", db.Dialect())
			}
			if _, err := os.Stat(tt.file); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, want string
	}{
		{"unknown scheme", "mysql://u:secret@h/db", `scheme "mysql"`},
		{"no extension", "data/orders", "unsupported database URL"},
		{"sqlite query", "sqlite:///tmp/x.db?mode=ro", "without query"},
		{"sqlite memory", "sqlite://:memory:", "invalid SQLite database path"},
		{"postgres down", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2", "migrate postgres://u:xxxxx@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := database.Open(context.Background(), tt.url, orders.Migrations)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q: want it to contain %q and no password", err, tt.want)
			}
		})
	}
}

func TestOpenWithoutMigrations(t *testing.T) {
	t.Parallel()
	if db, err := database.Open(context.Background(), dbtest.SQLite(t), nil); err == nil {
		db.Close()
		t.Fatal("Open without migrations succeeded")
	}
}
