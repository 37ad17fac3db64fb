// Package dbtest gives tests fresh databases: a SQLite file in the test's temporary directory,
// or a new database on the local PostgreSQL server, dropped when the test ends. Each runs one
// test body on both, so that every store is tested on every backend the platform runs on.
//
// PostgreSQL is found through MERCATO_TEST_POSTGRES_URL, or PGHOST, PGPORT and PGUSER
// (defaults 127.0.0.1, 5432, postgres). A test that needs it and cannot reach it fails, saying
// how to start it; it is never skipped silently.
package dbtest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"mercato.dev/ent/database"
	"mercato.dev/ent/internal/pgtemp"
)

// SQLite returns the URL of a fresh SQLite database file in t's temporary directory.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
}

// Postgres creates a uniquely named database on the local PostgreSQL server, returns its URL,
// and drops it (closing its remaining sessions) when t ends. It fails t if the server is not
// reachable.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, drop, err := pgtemp.Create(ctx, pgtemp.ServerURL(), "mercato_test")
	if err != nil {
		t.Fatalf("dbtest: PostgreSQL is needed by this test: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("dbtest: %v", err)
		}
	})
	return url
}

// Each runs fn as two subtests, "sqlite" and "postgres", each with the URL of a fresh database
// of that kind. With -short only the SQLite one runs (the PostgreSQL one is reported skipped).
func Each(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("dbtest: PostgreSQL runs without -short")
		}
		fn(t, Postgres(t))
	})
}

// Open opens and migrates the database at url with database.Open, closing it when t ends.
func Open(t testing.TB, url string, migrations database.Migrations) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), url, migrations)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TerminateSessions ends every session connected to the PostgreSQL database at url
// (pg_terminate_backend, as an administrator or a failover does) and returns how many it
// ended. It touches only that database, never the server.
func TerminateSessions(t testing.TB, url string) int {
	t.Helper()
	name, err := pgtemp.DatabaseName(url)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", pgtemp.ServerURL())
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()) AS ended`, name).Scan(&n)
	if err != nil {
		t.Fatalf("dbtest: terminate the sessions of %s: %v", name, err)
	}
	return n
}
