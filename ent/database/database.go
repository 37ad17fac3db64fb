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
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
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

// DB is an open, migrated database. On PostgreSQL it is one connection pool. On SQLite it is
// two: one write connection, through which every transaction and statement that may write
// goes (writers queue for it in Go), and a few query_only connections for reads outside
// transactions, which WAL lets run beside the writer.
type DB struct {
	db      *sql.DB // every write; all of PostgreSQL
	read    *sql.DB // SQLite's read connections; db elsewhere
	ckpt    *checkpointer
	dialect string
}

// SQL returns the pool that writes (on SQLite, the one write connection).
func (d *DB) SQL() *sql.DB { return d.db }

// ReadSQL returns the pool for reads outside transactions (on PostgreSQL, the same as SQL).
func (d *DB) ReadSQL() *sql.DB { return d.read }

// Dialect returns the ent dialect name: dialect.SQLite ("sqlite3") or dialect.Postgres.
func (d *DB) Dialect() string { return d.dialect }

// Driver returns an ent driver for <service>.NewClient(<service>.Driver(...)), with
// OpenTelemetry spans for statements and transactions (Traced): transactions and Exec go to the
// write pool, SELECTs outside a transaction to the read pool (see splitDriver).
func (d *DB) Driver() dialect.Driver {
	w := entsql.OpenDB(d.dialect, d.db)
	if d.read == d.db {
		return Traced(w)
	}
	return Traced(&splitDriver{Driver: w, read: entsql.OpenDB(d.dialect, d.read)})
}

// Close closes the pools.
func (d *DB) Close() error {
	var err error
	if d.ckpt != nil {
		err = d.ckpt.close()
	}
	if d.read != d.db {
		return errors.Join(err, d.read.Close(), d.db.Close())
	}
	return errors.Join(err, d.db.Close())
}

// splitDriver sends SELECT queries outside transactions to the read pool and everything else
// (Exec, Tx, BeginTx, and queries that write, such as ent's INSERT … RETURNING of an upsert) to
// the write pool. A write that reached a read connection would fail there (query_only), never
// bypass the writer.
type splitDriver struct {
	*entsql.Driver
	read *entsql.Driver
}

// A SELECT outside a transaction runs on the read pool with ctx's values but not its
// cancellation (statementContext: ctx's error if it has ended). Given a context that can end,
// database/sql starts a goroutine per query, with a context of its own, to close the rows when
// it does (Rows.awaitDone): a tenth of the memory GetProduct allocates in inventory and one
// goroutine per read. A SQLite read runs in-process for microseconds and its rows are read at
// once; what it gave up is closing rows early for a caller that left while they were read.
func (s *splitDriver) Query(ctx context.Context, query string, args, v any) error {
	if isSelect(query) {
		ctx, err := statementContext(ctx)
		if err != nil {
			return err
		}
		return s.read.Query(ctx, query, args, v)
	}
	return s.Driver.Query(ctx, query, args, v)
}

// isSelect reports whether query is a plain SELECT (ent writes none with a leading WITH).
func isSelect(query string) bool {
	q := strings.TrimLeft(query, " \t\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

func (s *splitDriver) Close() error { return errors.Join(s.read.Close(), s.Driver.Close()) }

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
	if err := t.checkNotHeld(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := t.migrateRetrying(ctx, db, migrations, o.logger); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	d := &DB{db: db, read: db, dialect: t.dialect}
	if t.readDSN != "" {
		if d.read, err = t.openRead(); err != nil {
			return nil, errors.Join(err, db.Close())
		}
		log := o.logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		if d.ckpt, err = startCheckpointer(t, log); err != nil {
			return nil, errors.Join(err, d.read.Close(), db.Close())
		}
	}
	return d, nil
}

// open opens the pool with limits fitting the engine; the first migration query connects.
func (t target) open() (*sql.DB, error) {
	if t.path != "" {
		if err := os.MkdirAll(filepath.Dir(t.path), 0o750); err != nil {
			return nil, fmt.Errorf("open %s: %w", t, err)
		}
	}
	db, err := t.sqlOpen(t.dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", t, err)
	}
	switch t.dialect {
	case dialect.SQLite:
		// SQLite has one writer at a time anyway: one connection, kept open, for which writers
		// queue in Go (database/sql hands it over in order) instead of polling the file lock.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	default:
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(8)
		db.SetConnMaxIdleTime(5 * time.Minute)
		db.SetConnMaxLifetime(30 * time.Minute)
	}
	return db, nil
}

// checkNotHeld fails within checkHeldWait when another process holds the SQLite database (see
// sqliteExclusive), where the pools would wait out the busy timeout and the migration's
// retries, 40 s, before failing with "database is locked". Within this process a reader waits
// only while a connection turns a fresh database to WAL, for milliseconds.
func (t target) checkNotHeld(ctx context.Context) error {
	if t.path == "" {
		return nil
	}
	db, err := t.sqlOpen(t.path + "?" + sqliteExclusive + "&_pragma=busy_timeout(" + checkHeldWait + ")")
	if err != nil {
		return fmt.Errorf("open %s: %w", t, err)
	}
	defer db.Close()
	var version int64
	err = db.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&version)
	switch {
	case err == nil:
		return nil
	case Classify(err) == Conflict:
		return fmt.Errorf("open %s: the database is in use by another process (a SQLite database "+
			"is held by one process at a time; stop the other one or give this one its own file): %w", t, err)
	default:
		return fmt.Errorf("open %s: %w", t, err)
	}
}

// checkHeldWait is how long checkNotHeld waits for the database's lock, in milliseconds.
const checkHeldWait = "2000"

// sqlOpen opens a pool on dsn; SQLite connections cache their prepared statements.
func (t target) sqlOpen(dsn string) (*sql.DB, error) {
	if t.dialect != dialect.SQLite {
		return sql.Open(t.driver, dsn)
	}
	return sql.OpenDB(sqliteConnector{drv: &sqlite.Driver{}, dsn: dsn}), nil
}

// openRead opens SQLite's read-only pool: as many connections as reads run at once, kept open
// (a new SQLite connection reads the schema again).
func (t target) openRead() (*sql.DB, error) {
	db, err := t.sqlOpen(t.readDSN)
	if err != nil {
		return nil, fmt.Errorf("open %s for reading: %w", t, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	return db, nil
}
