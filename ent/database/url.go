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
	path    string // the SQLite file
	display string // for messages, without credentials
}

func (t target) String() string { return t.display }

// sqlitePragmas configure every SQLite connection: writers wait for each other (busy_timeout,
// immediate transactions) rather than fail with "database is locked", readers do not block the
// writer (WAL), and foreign keys are enforced.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

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
		dsn:     abs + "?" + sqlitePragmas,
		path:    abs,
		display: "sqlite://" + abs,
	}, nil
}
