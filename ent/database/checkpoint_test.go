package database_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"mercato.dev/ent/dbtest"
	orders "mercato.dev/ent/orders/migrate"
)

// The WAL reaches the database file without any commit checkpointing it: the write connection
// checkpoints only past 16,384 pages, and these writes are far fewer.
func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	url := dbtest.SQLite(t)
	db := dbtest.Open(t, url, orders.Migrations)
	path := strings.TrimPrefix(url, "sqlite://")
	ctx := t.Context()
	before := fileSize(t, path)
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("x", 1000)
	for i := range 2000 {
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox_events (id, subject, payload, create_time) VALUES (?, 'test', ?, CURRENT_TIMESTAMP)`,
			fmt.Sprintf("%036d", i), payload)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for fileSize(t, path) < before+1<<20 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the database file grew %d bytes in %s after 2 MB committed: no checkpoint", fileSize(t, path)-before, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("checkpointed %s after the commit", time.Since(start).Round(time.Millisecond))
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
