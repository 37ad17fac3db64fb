package database_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mercato.dev/ent/database"
	"mercato.dev/ent/dbtest"
	orders "mercato.dev/ent/orders/migrate"
)

// openInChild is set in the environment of the test binary run as a second process by
// TestSQLiteHeldByOneProcess: that process opens the database at its value and exits.
const openInChild = "DATABASE_TEST_OPEN_IN_CHILD"

func TestMain(m *testing.M) {
	if url := os.Getenv(openInChild); url != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		db, err := database.Open(ctx, url, orders.Migrations)
		cancel()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(3)
		}
		_ = db.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// openFromAnotherProcess runs database.Open on url in a second process and returns its error
// output ("" when it opened the database) and how long it took.
func openFromAnotherProcess(t *testing.T, url string) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), openInChild+"="+url)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err == nil {
		return "", took
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out)), took
}

// A SQLite database belongs to the process that opened it: its connections share the lock and
// the WAL index in memory (no -shm file), and a second process is refused at once with a
// message that says why, until the first has closed the database.
func TestSQLiteHeldByOneProcess(t *testing.T) {
	t.Parallel()
	url := dbtest.SQLite(t)
	path := strings.TrimPrefix(url, "sqlite://")
	db := dbtest.Open(t, url, orders.Migrations)
	if _, err := db.SQL().ExecContext(t.Context(), `DELETE FROM outbox_events`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.ReadSQL().QueryRowContext(t.Context(), `SELECT count(*) FROM outbox_events`).Scan(&n); err != nil {
		t.Fatalf("read pool beside the write connection: %v", err)
	}
	if _, err := os.Stat(path + "-shm"); !os.IsNotExist(err) {
		t.Errorf("%s-shm: %v; want no shared-memory file (the WAL index lives in the process)", filepath.Base(path), err)
	}

	msg, took := openFromAnotherProcess(t, url)
	t.Logf("second process refused after %s", took.Round(time.Millisecond))
	if !strings.Contains(msg, "in use by another process") {
		t.Fatalf("second process while the first holds the database: %q, want it refused as in use by another process", msg)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if msg, _ := openFromAnotherProcess(t, url); msg != "" {
		t.Fatalf("second process once the first has closed the database: %s", msg)
	}
}
