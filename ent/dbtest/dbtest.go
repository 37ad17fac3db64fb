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
