package database

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"entgo.io/ent/dialect"
)

// target is a parsed database URL.
type target struct {
	dialect string // ent dialect
	driver  string // database/sql driver
	dsn     string
	readDSN string // SQLite: the read-only connections' DSN
	path    string // the SQLite file
	display string // for messages, without credentials
}

func (t target) String() string { return t.display }

// SQLite connection settings. Every connection: readers never block the writer nor it them
// (WAL), foreign keys are enforced, and a connection that finds the database locked waits
// (busy_timeout) instead of failing at once. The pool's one write connection opens its
// transactions with BEGIN IMMEDIATE, so a transaction that reads before it writes holds the
// write lock from the start and never fails to upgrade; writers queue for that one connection
// in Go rather than sleeping in SQLite's busy handler. synchronous=NORMAL in WAL mode: a commit
// is durable against a process crash at once and against a power cut from the next checkpoint
// on (see the README, "Durability"). Read connections are query_only and open deferred
// (snapshot) transactions.
//
// The WAL is checkpointed in the background (see checkpointer); the write connection checkpoints
// by itself only past sqliteAutoCheckpoint pages (64 MiB of WAL at 4 KiB pages).
//
// The process holds the database exclusively (SQLite's unix-excl VFS): its first connection
// takes a POSIX lock on the file for the whole process, and from then on its connections
// coordinate in memory, the WAL index in the heap (no -shm file) and no file lock per
// transaction. With the shared default every read transaction locked and unlocked a slot of
// the -shm file with fcntl(2), and a write transaction took and dropped the file's locks as
// well: two system calls per GetProduct, 33 per order. Readers still never block the writer:
// WAL works as before between this process's connections. Another process cannot open the
// database while the service runs (Open says so at once, see checkNotHeld): a SQLite database
// has one owner, and replicas share PostgreSQL.
const (
	sqliteAutoCheckpoint = "16384"
	sqliteExclusive      = "vfs=unix-excl"
	sqliteCommon         = sqliteExclusive + "&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	sqliteWrite          = sqliteCommon + "&_txlock=immediate&_pragma=wal_autocheckpoint(" + sqliteAutoCheckpoint + ")"
	sqliteRead           = sqliteCommon + "&_pragma=query_only(1)"
)

func parseURL(raw string) (target, error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return target{}, errors.New("invalid postgres URL") // the URL may hold a password: not echoed
		}
		return target{dialect: dialect.Postgres, driver: "pgx", dsn: raw, display: u.Redacted()}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		return sqliteTarget(strings.TrimPrefix(raw, "sqlite://"))
	case !strings.Contains(raw, "://") && strings.HasSuffix(raw, ".db"):
		return sqliteTarget(raw)
	}
	scheme, _, _ := strings.Cut(raw, "://")
	return target{}, fmt.Errorf("unsupported database URL (scheme %q): want sqlite:///path/to/file.db, "+
		"a path ending in .db, or postgres://…", scheme)
}

func sqliteTarget(path string) (target, error) {
	if path == "" || strings.Contains(path, "?") || strings.Contains(path, ":memory:") {
		return target{}, fmt.Errorf("invalid SQLite database path %q: want a file path without query", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return target{}, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return target{
		dialect: dialect.SQLite,
		driver:  "sqlite",
		dsn:     abs + "?" + sqliteWrite,
		readDSN: abs + "?" + sqliteRead,
		path:    abs,
		display: "sqlite://" + abs,
	}, nil
}
