package database_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"mercato.dev/ent/database"
	"mercato.dev/ent/dbtest"
)

// TestClassifyRealErrors makes PostgreSQL and SQLite fail for real — a terminated session,
// a refused connection, a serialization failure, a lock timeout, a busy SQLite file — and
// checks each is classified as a client should retry it, while a constraint violation is not.
func TestClassifyRealErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := dbtest.Postgres(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dbtest.TerminateSessions(t, url); n < 1 {
		t.Fatalf("terminated %d sessions, want the test's own", n)
	}
	_, terminated := conn.ExecContext(ctx, "SELECT 1")

	refusedDB, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer refusedDB.Close()
	refused := refusedDB.PingContext(ctx)

	raise := func(code string) error {
		_, err := db.ExecContext(ctx, "DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '"+code+"'; END $$")
		return err
	}
	_, unique := db.ExecContext(ctx, "CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1), (1)")

	tests := []struct {
		name string
		err  error
		want database.Fault
	}{
		{"PostgreSQL session terminated", terminated, database.Unavailable},
		{"PostgreSQL connection refused", refused, database.Unavailable},
		{"serialization failure", raise("40001"), database.Conflict},
		{"deadlock", raise("40P01"), database.Conflict},
		{"lock timeout", raise("55P03"), database.Conflict},
		{"too many connections", raise("53300"), database.Unavailable},
		{"unique violation", unique, database.Permanent},
		{"SQLite busy", sqliteBusy(t), database.Conflict},
		{"not a database error", errors.New("bug"), database.Permanent},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error happened", tt.name)
			continue
		}
		if got := database.Classify(tt.err); got != tt.want {
			t.Errorf("%s (%v): %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// sqliteBusy holds a write lock on a SQLite file in one connection and asks for another with
// no busy timeout.
func sqliteBusy(t *testing.T) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "busy.db")
	a, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.Exec("CREATE TABLE t (k int)"); err != nil {
		t.Fatal(err)
	}
	tx, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	_, err = b.Exec("INSERT INTO t VALUES (2)")
	return err
}
