package database

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"entgo.io/ent/dialect"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrateRetrying is migrate, tried again while SQLite answers busy without waiting, for up to
// 30 s. SQLite does so when connections open a fresh database together: turning it to WAL needs
// the database to itself, and that wait bypasses the busy timeout. Each try takes the
// migration lock anew, and a migration is applied in a transaction with its version row, so
// one refused part-way is applied whole by the next try.
func (t target) migrateRetrying(ctx context.Context, db *sql.DB, migrations Migrations, logger *slog.Logger) error {
	deadline := time.Now().Add(30 * time.Second)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		err := t.migrate(ctx, db, migrations, logger)
		if err == nil || t.dialect != dialect.SQLite || Classify(err) != Conflict || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// migrate applies the pending migrations of t's dialect, holding the dialect's migration lock.
// (goose creates its version table before taking the lock; when replicas race to create it on a
// fresh database, the losers retry once a second later. Applying migrations is always locked.)
func (t target) migrate(ctx context.Context, db *sql.DB, migrations Migrations, logger *slog.Logger) error {
	p, err := t.provider(db, migrations)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", t, err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", t, err)
	}
	for _, r := range results {
		if logger != nil {
			logger.InfoContext(ctx, "database migrated", "database", t.display,
				"migration", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

func (t target) provider(db *sql.DB, migrations Migrations) (*goose.Provider, error) {
	if migrations == nil {
		return nil, fmt.Errorf("no migrations given")
	}
	var (
		dir     string
		gd      goose.Dialect
		locker  lock.SessionLocker
		lockErr error
	)
	switch t.dialect {
	case dialect.Postgres:
		dir, gd = PostgresDir, goose.DialectPostgres
		// A session advisory lock (scoped to this database): replicas starting together wait
		// for the first to finish, retrying every second for up to five minutes.
		locker, lockErr = lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	default:
		dir, gd = SQLiteDir, goose.DialectSQLite3
		locker = &fileLocker{path: t.path + "-migrate.lock"}
	}
	if lockErr != nil {
		return nil, lockErr
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(gd, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
}
