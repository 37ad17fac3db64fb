package database

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Fault is what a database error means to the caller of a request that failed with it.
type Fault int

const (
	// Permanent: a bug or data the database refuses; trying again changes nothing.
	Permanent Fault = iota
	// Unavailable: the database could not be reached, or the connection was lost or refused
	// (a restart, a terminated session, too many connections). Trying again later may work.
	Unavailable
	// Conflict: the transaction lost to a concurrent one (serialization failure, deadlock,
	// lock timeout, SQLite busy). Trying the whole request again may work.
	Conflict
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case Unavailable:
		return "unavailable"
	case Conflict:
		return "conflict"
	}
	return "permanent"
}

// Classify tells a lost or refused connection and a transaction conflict from every other
// database error, on PostgreSQL (pgx) and SQLite (modernc.org/sqlite) alike.
func Classify(err error) Fault {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return classifyPg(pg.Code)
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // the primary result code
		case sqliteBusy, sqliteLocked:
			return Conflict
		}
		return Permanent
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connect), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), pgconn.SafeToRetry(err):
		return Unavailable
	}
	return Permanent
}

// SQLite primary result codes (sqlite3.h).
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// classifyPg classifies a PostgreSQL SQLSTATE.
func classifyPg(code string) Fault {
	switch code {
	case "40001", // serialization_failure
		"40P01", // deadlock_detected
		"55P03": // lock_not_available (lock_timeout)
		return Conflict
	case "57P01", // admin_shutdown: pg_terminate_backend, or a fast shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting up or shutting down
		"57P05", // idle_session_timeout
		"53300", // too_many_connections
		"25P03": // idle_in_transaction_session_timeout
		return Unavailable
	}
	if strings.HasPrefix(code, "08") { // connection_exception
		return Unavailable
	}
	return Permanent
}
