//go:build !unix

package database

import (
	"context"
	"database/sql"
	"errors"
)

// fileLocker is unix-only (flock); SQLite databases are not supported elsewhere.
type fileLocker struct{ path string }

func (*fileLocker) SessionLock(context.Context, *sql.Conn) error {
	return errors.New("migrating SQLite needs flock(2), available on unix systems only")
}

func (*fileLocker) SessionUnlock(context.Context, *sql.Conn) error { return nil }
