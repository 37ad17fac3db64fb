package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"modernc.org/sqlite"
)

// The statement cache reuses a statement across calls, never while its rows are open, and
// gives the same answers as SQLite without it.
func TestStatementCache(t *testing.T) {
	db := sql.OpenDB(sqliteConnector{drv: &sqlite.Driver{}, dsn: filepath.Join(t.TempDir(), "c.db") + "?" + sqliteWrite})
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i, string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT v FROM t WHERE id >= ? ORDER BY id`
	// A plain read, twice (the second from the cache).
	for range 2 {
		var v string
		if err := db.QueryRowContext(ctx, q, 0).Scan(&v); err != nil || v != "a" {
			t.Fatalf("read %q, %v", v, err)
		}
	}
	outer, err := db.QueryContext(ctx, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var v string
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[4] != "e" {
		t.Fatalf("rows %v", got)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a, err := conn.QueryContext(ctx, q, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Next() {
		t.Fatal("no row")
	}
	b, err := conn.QueryContext(ctx, q, 4) // same text while a is open: runs uncached
	if err != nil {
		t.Fatal(err)
	}
	var va, vb string
	if !b.Next() || b.Scan(&vb) != nil || a.Scan(&va) != nil {
		t.Fatal("scan")
	}
	if va != "d" || vb != "e" {
		t.Fatalf("nested same-text queries read %q and %q, want d and e", va, vb)
	}
	if !a.Next() || a.Scan(&va) != nil || va != "e" {
		t.Fatalf("outer rows after the inner query: %q", va)
	}
	_ = a.Close()
	_ = b.Close()
	var n int
	err = conn.Raw(func(dc any) error {
		n = len(dc.(*cachingConn).stmts)
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("cached statements: %d, %v", n, err)
	}
}

func TestOnlySelectsGoToTheReadPool(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT `id` FROM `orders`":                        true,
		"  select 1":                                       true,
		"(SELECT 1) UNION (SELECT 2)":                      true,
		"INSERT INTO `n` (`id`) VALUES (?) RETURNING `id`": false,
		"UPDATE `t` SET `a` = 1 RETURNING `id`":            false,
		"DELETE FROM `t`":                                  false,
		"SEL":                                              false,
	} {
		if got := isSelect(q); got != want {
			t.Errorf("isSelect(%q) = %v, want %v", q, got, want)
		}
	}
}

// Statements run without the driver's per-statement interrupter, and cancellation still holds:
// an ended context refuses the statement, and a transaction whose context ends is rolled back.
func TestStatementsKeepCancellation(t *testing.T) {
	connector := sqliteConnector{drv: &sqlite.Driver{}, dsn: filepath.Join(t.TempDir(), "c.db") + "?" + sqliteWrite}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	bg := context.Background()
	if _, err := db.ExecContext(bg, `CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}

	// At the driver, below database/sql's own checks.
	raw, err := connector.Connect(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cc := raw.(*cachingConn)
	ended, cancel := context.WithCancel(bg)
	cancel()
	if _, err := cc.ExecContext(ended, `INSERT INTO t (id) VALUES (1)`, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("exec with an ended context: %v, want context.Canceled", err)
	}
	if _, err := cc.QueryContext(ended, `SELECT id FROM t`, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("query with an ended context: %v, want context.Canceled", err)
	}
	if _, err := cc.BeginTx(ended, driver.TxOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("begin with an ended context: %v, want context.Canceled", err)
	}
	_ = raw.Close()

	// Through database/sql: a live deadline works; a transaction whose context ends mid-way is
	// rolled back, its write gone.
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (id) VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tx.Commit(); err == nil {
		t.Fatal("a transaction whose context ended committed")
	}
	var n int
	if err := db.QueryRowContext(bg, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after the canceled transaction: %d, %v; want 0", n, err)
	}
}
