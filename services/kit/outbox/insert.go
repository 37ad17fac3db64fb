package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// Execer runs a statement in the transaction that writes the business change: an ent *Tx (its
// ExecContext) or a *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Inserter writes event rows into a service's outbox table (the ent schema every service shares,
// ent/internal/outboxschema) with one hand-written statement: the insert ent's generated create
// writes, with the same values (the ID as a UUID, the headers as JSON, status pending, no
// attempts), without ent's builders, which cost more than the insert itself on the order path.
type Inserter struct{ query string }

// NewInserter returns the Inserter of table in a database of dialect ("sqlite3" or "postgres",
// as NewSQLStore takes).
func NewInserter(dialect, table string) (Inserter, error) {
	s, err := NewSQLStore(nil, dialect, table)
	if err != nil {
		return Inserter{}, err
	}
	return Inserter{query: `INSERT INTO ` + s.table + ` ("id", "subject", "payload", "headers", "status", "attempts", "create_time") VALUES (` +
		s.args(1, 7) + `)`}, nil
}

// Insert writes ev in the transaction of exec.
func (i Inserter) Insert(ctx context.Context, exec Execer, ev Event) error {
	id, err := uuid.Parse(ev.ID)
	if err != nil {
		return fmt.Errorf("outbox event ID %q: %w", ev.ID, err)
	}
	headers, err := json.Marshal(ev.Headers)
	if err != nil {
		return fmt.Errorf("outbox event %s headers: %w", ev.ID, err)
	}
	_, err = exec.ExecContext(ctx, i.query, id, ev.Subject, ev.Payload, json.RawMessage(headers), "pending", 0, ev.CreateTime)
	return err
}
