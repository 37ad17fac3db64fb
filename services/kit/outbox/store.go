package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store is the outbox table as the relay sees it.
type Store interface {
	// Claim leases up to limit unsent events to owner for lease, oldest first: pending
	// events, and claimed ones whose lease has expired. Events leased to another owner are
	// never returned while their lease runs.
	Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]Event, error)
	// MarkSent marks the events with the given IDs sent, if owner still holds them, and
	// returns how many it marked.
	MarkSent(ctx context.Context, owner string, ids []string) (int, error)
	// Release makes the events with the given IDs that owner holds pending again, for a
	// retry without waiting for their lease to expire.
	Release(ctx context.Context, owner string, ids []string) error
	// Backlog counts the unsent events and returns the creation time of the oldest (zero
	// when there is none).
	Backlog(ctx context.Context) (count int, oldest time.Time, err error)
}

// Statuses of an outbox row.
const (
	statusPending = "pending"
	statusClaimed = "claimed"
	statusSent    = "sent"
)

// SQLStore is a Store on an outbox table of the shape ent/internal/outboxschema defines, on
// SQLite or PostgreSQL, through database/sql: one implementation for every service.
//
// Times it writes (claimed_until, sent_time) and compares are UTC. On SQLite, where times are
// text, that keeps comparisons correct; services should likewise write create_time in UTC (as
// New does), since the relay orders by it.
type SQLStore struct {
	db       *sql.DB
	postgres bool
	table    string
	now      func() time.Time

	mu          sync.Mutex
	nextExpired time.Time // when Claim next looks for expired leases
}

var _ Store = (*SQLStore)(nil)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// NewSQLStore returns the store of table (such as "outbox_events") in db. dialect is the ent
// dialect name, database.DB.Dialect(): "sqlite3" or "postgres". On SQLite, db should begin
// immediate transactions (database.Open's pool does: _txlock=immediate).
func NewSQLStore(db *sql.DB, dialect string, table string) (*SQLStore, error) {
	if !identifier.MatchString(table) {
		return nil, fmt.Errorf("outbox: invalid table name %q", table)
	}
	s := &SQLStore{db: db, table: `"` + table + `"`, now: func() time.Time { return time.Now().UTC() }}
	switch dialect {
	case "sqlite3", "sqlite":
	case "postgres", "postgresql", "pgx":
		s.postgres = true
	default:
		return nil, fmt.Errorf("outbox: unsupported SQL dialect %q (want sqlite3 or postgres)", dialect)
	}
	return s, nil
}

// Claim implements Store. Expired leases exist only after a relay crashed or stalled, so they
// are looked for at most every quarter lease (and on the first claim): then in one transaction
// of two UPDATE … RETURNING statements, the expired rows first, then pending ones up to limit.
// Otherwise a claim is one statement, pending rows only. Each is an ordered scan of the
// (status, create_time) index. On PostgreSQL the rows are selected FOR UPDATE SKIP LOCKED, so
// concurrent relays claim disjoint batches without waiting for each other; on SQLite the write
// lock serializes the relays. (Both parts in one statement, a UNION ALL under one LIMIT, cost
// SQLite a recompilation on every call: 284 µs against 72 for the pending part alone.)
func (s *SQLStore) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.now()
	if s.expiredDue(now, lease) {
		return s.claimWithExpired(ctx, owner, limit, lease, now)
	}
	rows, err := s.db.QueryContext(ctx, s.claimSQL(`status = 'pending'`, limit), owner, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	sortByCreation(evs)
	return evs, nil
}

// expiredDue reports whether a claim at now should look for expired leases, and if so takes
// the turn: the first claim, then at most every quarter of the lease.
func (s *SQLStore) expiredDue(now time.Time, lease time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.nextExpired.IsZero() && now.Before(s.nextExpired) {
		return false
	}
	s.nextExpired = now.Add(lease / 4)
	return true
}

// claimWithExpired claims expired leases, then pending rows up to limit, in one transaction.
func (s *SQLStore) claimWithExpired(ctx context.Context, owner string, limit int, lease time.Duration, now time.Time) ([]Event, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	rows, err := tx.QueryContext(ctx, s.claimSQL(`status = 'claimed' AND claimed_until < `+s.arg(3), limit), owner, now.Add(lease), now)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim expired: %w", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim expired: %w", err)
	}
	if len(evs) < limit {
		rows, err := tx.QueryContext(ctx, s.claimSQL(`status = 'pending'`, limit-len(evs)), owner, now.Add(lease))
		if err != nil {
			return nil, fmt.Errorf("outbox: claim pending: %w", err)
		}
		pending, err := scanEvents(rows)
		if err != nil {
			return nil, fmt.Errorf("outbox: claim pending: %w", err)
		}
		evs = append(evs, pending...)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	sortByCreation(evs)
	return evs, nil
}

// claimSQL leases to owner ($1) until $2 the limit oldest rows matching where (whose own
// arguments follow). The limit is written into the statement, not bound: SQLite recompiles a
// statement whose subquery's LIMIT is a bound parameter each time it runs (119 CPU µs per claim
// against 38); the relay's limit is its batch size, so the text, and the prepared statement
// the connection caches for it, stay the same.
func (s *SQLStore) claimSQL(where string, limit int) string {
	lock := ""
	if s.postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return `UPDATE ` + s.table + ` SET status = 'claimed', claimed_by = ` + s.arg(1) + `, claimed_until = ` + s.arg(2) +
		`, attempts = attempts + 1 WHERE id IN (SELECT id FROM ` + s.table + ` WHERE ` + where +
		` ORDER BY create_time LIMIT ` + strconv.Itoa(limit) + lock + `) RETURNING id, subject, payload, headers, create_time`
}

// sortByCreation puts events oldest first: RETURNING gives no order.
func sortByCreation(evs []Event) {
	slices.SortFunc(evs, func(a, b Event) int { return a.CreateTime.Compare(b.CreateTime) })
}

// MarkSent implements Store.
func (s *SQLStore) MarkSent(ctx context.Context, owner string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	q := `UPDATE ` + s.table + ` SET status = 'sent', sent_time = ` + s.arg(1) + `, claimed_until = NULL` +
		` WHERE status = 'claimed' AND claimed_by = ` + s.arg(2) + ` AND id IN (` + s.args(3, len(ids)) + `)`
	res, err := s.db.ExecContext(ctx, q, append([]any{s.now(), owner}, anys(ids)...)...)
	if err != nil {
		return 0, fmt.Errorf("outbox: mark sent: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("outbox: mark sent: %w", err)
	}
	return int(n), nil
}

// Release implements Store.
func (s *SQLStore) Release(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	q := `UPDATE ` + s.table + ` SET status = 'pending', claimed_by = NULL, claimed_until = NULL` +
		` WHERE status = 'claimed' AND claimed_by = ` + s.arg(1) + ` AND id IN (` + s.args(2, len(ids)) + `)`
	if _, err := s.db.ExecContext(ctx, q, append([]any{owner}, anys(ids)...)...); err != nil {
		return fmt.Errorf("outbox: release: %w", err)
	}
	return nil
}

// Backlog implements Store.
func (s *SQLStore) Backlog(ctx context.Context) (int, time.Time, error) {
	var n int
	unsent := ` FROM ` + s.table + ` WHERE status IN ('pending', 'claimed')`
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*)`+unsent).Scan(&n); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: backlog: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var v any
	err := s.db.QueryRowContext(ctx, `SELECT create_time`+unsent+` ORDER BY create_time LIMIT 1`).Scan(&v)
	if err == sql.ErrNoRows { // sent in between
		return n, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: backlog: %w", err)
	}
	oldest, err := asTime(v)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: backlog: %w", err)
	}
	return n, oldest, nil
}

// DeleteSent deletes the events sent before t and returns how many it deleted. The relay
// calls it periodically when Options.KeepSent is set.
func (s *SQLStore) DeleteSent(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE status = 'sent' AND sent_time < `+s.arg(1), before.UTC())
	if err != nil {
		return 0, fmt.Errorf("outbox: delete sent: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("outbox: delete sent: %w", err)
	}
	return int(n), nil
}

// arg is the i-th (from 1) placeholder: $i on PostgreSQL, ?i on SQLite.
func (s *SQLStore) arg(i int) string {
	if s.postgres {
		return "$" + strconv.Itoa(i)
	}
	return "?" + strconv.Itoa(i)
}

// args is n placeholders from the i-th, comma-separated.
func (s *SQLStore) args(i, n int) string {
	ps := make([]string, n)
	for k := range ps {
		ps[k] = s.arg(i + k)
	}
	return strings.Join(ps, ", ")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// scanEvents reads id, subject, payload, headers, create_time rows and closes them.
func scanEvents(rows *sql.Rows) ([]Event, error) {
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		var (
			ev      Event
			headers []byte
			created any
		)
		if err := rows.Scan(&ev.ID, &ev.Subject, &ev.Payload, &headers, &created); err != nil {
			return nil, err
		}
		if len(headers) > 0 {
			if err := json.Unmarshal(headers, &ev.Headers); err != nil {
				return nil, fmt.Errorf("event %s headers: %w", ev.ID, err)
			}
		}
		t, err := asTime(created)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		ev.CreateTime = t
		evs = append(evs, ev)
	}
	return evs, rows.Err()
}

// sqliteTimeFormats are the layouts SQLite time text comes in: Go's time.Time.String (what the
// modernc driver writes by default), then SQLite's own.
var sqliteTimeFormats = []string{
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// asTime converts a scanned time: a time.Time, or SQLite text where the driver could not tell
// the column is a time (RETURNING, aggregates).
func asTime(v any) (time.Time, error) {
	var s string
	switch v := v.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return time.Time{}, fmt.Errorf("unexpected time value %T", v)
	}
	if i := strings.Index(s, " m="); i > 0 { // monotonic clock reading
		s = s[:i]
	}
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range sqliteTimeFormats {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unparsable time %q", s)
}
