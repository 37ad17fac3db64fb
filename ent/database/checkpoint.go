package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// checkpointEvery is how often the background checkpointer copies the WAL into the database.
const checkpointEvery = 500 * time.Millisecond

// checkpointer copies SQLite's WAL back into the database file from a connection of its own,
// every checkpointEvery, so that no request waits for it. SQLite's default is the other way: the
// commit that takes the WAL past 1,000 pages runs the checkpoint while the write connection, and
// every writer queued behind it, waits. It also checkpoints less often than that default under
// load: a page written by many commits in a row (the end of an index, a product's stock row) is
// copied once per checkpoint, not once per 1,000 pages. A checkpoint is PASSIVE: it never waits
// for or blocks a writer or a reader. The write connection still checkpoints by itself past
// sqliteAutoCheckpoint pages, should this one fall behind.
type checkpointer struct {
	db   *sql.DB
	stop context.CancelFunc
	done chan struct{}
	log  *slog.Logger
}

// startCheckpointer opens the checkpointing connection on dsn and starts it.
func startCheckpointer(t target, log *slog.Logger) (*checkpointer, error) {
	db, err := t.sqlOpen(t.dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s for checkpoints: %w", t, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, stop: stop, done: make(chan struct{}), log: log}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_, err := c.checkpoint(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true // once per failure, not twice a second
			c.log.Warn("sqlite checkpoint failed; the write connection checkpoints instead", "error", err.Error())
		case err == nil:
			failing = false
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and reports the WAL's frames left to copy.
func (c *checkpointer) checkpoint(ctx context.Context) (left int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var busy, frames, copied int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return 0, err
	}
	return frames - copied, nil
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.db.Close()
}
