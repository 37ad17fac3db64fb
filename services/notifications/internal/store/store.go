// Package store keeps notifications in the notifications database through its ent client, on
// SQLite or PostgreSQL alike.
package store

import (
	"context"
	"fmt"

	entdialect "entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/google/uuid"

	"mercato.dev/ent/database"
	"mercato.dev/ent/notifications"
	entn "mercato.dev/ent/notifications/notification"

	"mercato.dev/services/notifications/internal/notification"
)

var _ notification.Store = (*Store)(nil)

// Store is the ent adapter of notification.Store.
type Store struct {
	client *notifications.Client
	drv    entdialect.Driver
	insert string // Insert's statement, in the database's dialect
}

// New returns a store on an open, migrated database.
func New(db *database.DB) *Store {
	return &Store{
		client: notifications.NewClient(notifications.Driver(db.Driver())),
		drv:    db.Driver(),
		insert: `INSERT INTO "notifications" ("id", "create_time", "event_id", "customer_id", "order_id", "kind", "subject", "body") VALUES (` +
			database.NewArgs(db.Dialect()).List(8) + `)`,
	}
}

// Insert stores n; the unique event ID turns a second insert for the same event into
// created=false. It runs outside any transaction, so a refused insert aborts nothing else. The
// statement is the insert ent writes, written by hand: ent's builders were 12 % of
// notifications' CPU under CreateOrder (profile at c=16: 37 of 310 µs per order), a third of
// what the insert itself cost.
func (s *Store) Insert(ctx context.Context, n notification.Notification) (bool, error) {
	err := s.drv.Exec(ctx, s.insert,
		[]any{n.ID, n.CreateTime, n.EventID, n.CustomerID, n.OrderID, string(n.Kind), n.Subject, n.Body}, nil)
	switch {
	case err == nil:
		return true, nil
	case sqlgraph.IsUniqueConstraintError(err):
		return false, nil
	default:
		return false, fmt.Errorf("insert notification: %w", err)
	}
}

// List pages by keyset: (create_time, id) strictly below the cursor, both descending.
func (s *Store) List(ctx context.Context, customerID uuid.UUID, after *notification.Cursor, limit int) ([]notification.Notification, error) {
	q := s.client.Notification.Query().Where(entn.CustomerID(customerID))
	if after != nil {
		q = q.Where(entn.Or(
			entn.CreateTimeLT(after.CreateTime),
			entn.And(entn.CreateTimeEQ(after.CreateTime), entn.IDLT(after.ID)),
		))
	}
	rows, err := q.Order(entn.ByCreateTime(entsql.OrderDesc()), entn.ByID(entsql.OrderDesc())).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	out := make([]notification.Notification, 0, len(rows))
	for _, r := range rows {
		out = append(out, notification.Notification{
			ID: r.ID, EventID: r.EventID, CustomerID: r.CustomerID, OrderID: r.OrderID,
			Kind: notification.Kind(r.Kind), Subject: r.Subject, Body: r.Body, CreateTime: r.CreateTime.UTC(),
		})
	}
	return out, nil
}
