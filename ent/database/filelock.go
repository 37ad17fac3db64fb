//go:build unix

package database

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// fileLocker serialises migrations of one SQLite database across goroutines and processes with
// an exclusive flock(2) on a file next to it. The kernel releases the lock when its holder dies,
// so a crash never leaves the database locked. (The database file itself is never flocked:
// closing another descriptor of it would drop SQLite's own POSIX locks.)
type fileLocker struct {
	path string
	file *os.File
}

var _ lock.SessionLocker = (*fileLocker)(nil)

// SessionLock blocks until the lock is held or ctx ends.
func (l *fileLocker) SessionLock(ctx context.Context, _ *sql.Conn) error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			l.file = f
			return nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return fmt.Errorf("migration lock %s: %w", l.path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("migration lock %s: %w", l.path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SessionUnlock releases the lock.
func (l *fileLocker) SessionUnlock(context.Context, *sql.Conn) error {
	if l.file == nil {
		return nil
	}
	err := l.file.Close() // closing the only descriptor releases the flock
	l.file = nil
	return err
}
