package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Migrations is a service's versioned migrations: a file system with one directory per
// dialect, "sqlite" and "postgres", each holding goose SQL files. Each service's generated
// migrate package exports one, e.g. mercato.dev/ent/orders/migrate.Migrations.
type Migrations = fs.FS

// Dialect directories inside Migrations.
const (
	SQLiteDir   = "sqlite"
	PostgresDir = "postgres"
)

// DB is an open, migrated database.
type DB struct {
	db      *sql.DB
	dialect string
}

// SQL returns the connection pool.
func (d *DB) SQL() *sql.DB { return d.db }

// Dialect returns the ent dialect name: dialect.SQLite ("sqlite3") or dialect.Postgres.
func (d *DB) Dialect() string { return d.dialect }

// Driver returns an ent driver on the pool, for <service>.NewClient(<service>.Driver(...)),
// with OpenTelemetry spans for statements and transactions (Traced).
func (d *DB) Driver() dialect.Driver { return Traced(entsql.OpenDB(d.dialect, d.db)) }

// Close closes the pool.
func (d *DB) Close() error { return d.db.Close() }

// Option configures Open.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger logs each migration applied at Open. By default Open logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Open opens the database at url and applies the pending migrations, waiting for any other
// process migrating the same database. url is one of
//
//	sqlite:///abs/path/orders.db   sqlite://relative/path/orders.db   path/orders.db
//	postgres://user@host:5432/orders?sslmode=disable   (or postgresql://)
//
// For SQLite the file and its parent directory are created when missing.
func Open(ctx context.Context, url string, migrations Migrations, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	db, err := t.open()
	if err != nil {
		return nil, err
	}
	if err := t.migrate(ctx, db, migrations, o.logger); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &DB{db: db, dialect: t.dialect}, nil
}

// open opens the pool with limits fitting the engine; the first migration query connects.
func (t target) open() (*sql.DB, error) {
	if t.path != "" {
		if err := os.MkdirAll(filepath.Dir(t.path), 0o750); err != nil {
			return nil, fmt.Errorf("open %s: %w", t, err)
		}
	}
	db, err := sql.Open(t.driver, t.dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", t, err)
	}
	switch t.dialect {
	case dialect.SQLite:
		// One writer at a time anyway; a few connections let WAL readers proceed alongside it.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	default:
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(8)
		db.SetConnMaxIdleTime(5 * time.Minute)
		db.SetConnMaxLifetime(30 * time.Minute)
	}
	return db, nil
}
