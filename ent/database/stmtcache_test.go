package database

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

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
