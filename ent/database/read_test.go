package database_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	entsql "entgo.io/ent/dialect/sql"

	"mercato.dev/ent/dbtest"
	orders "mercato.dev/ent/orders/migrate"
)

// A SELECT outside a transaction on SQLite's read pool runs without the caller's cancellation:
// database/sql starts no goroutine per query to watch it, yet a context that has ended still
// refuses the read.
func TestSQLiteReadsStartNoWatcher(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite(t), orders.Migrations)
	drv := db.Driver()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	read := func(ctx context.Context) (*entsql.Rows, error) {
		var rows entsql.Rows
		err := drv.Query(ctx, `SELECT 1`, []any{}, &rows)
		return &rows, err
	}
	warm, err := read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()

	const reads = 6 // the read pool has 8 connections
	before := runtime.NumGoroutine()
	open := make([]*entsql.Rows, 0, reads)
	for range reads {
		rows, err := read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, rows) // held open: a watcher would live until they close
	}
	during := runtime.NumGoroutine()
	for _, rows := range open {
		if !rows.Next() {
			t.Errorf("read: no row (%v)", rows.Err())
		}
		rows.Close()
	}
	if during-before >= reads/2 {
		t.Errorf("%d reads held open: goroutines %d -> %d, a watcher per read", reads, before, during)
	}

	cancel()
	if _, err := read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("read with an ended context: %v, want context.Canceled", err)
	}
}
