// Package store keeps the inventory in its database through the ent client: products, stock
// adjustments and reservations. Stock moves only through guarded updates
// (UPDATE products SET available = available - n WHERE id = ? AND available >= n) inside a
// transaction, which works alike on SQLite and PostgreSQL without SELECT … FOR UPDATE.
package store

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/sqlgraph"

	ent "mercato.dev/ent/inventory"
	"mercato.dev/services/inventory/internal/stock"
)

// Store is the ent adapter of stock.Store.
type Store struct {
	client *ent.Client
	drv    dialect.Driver // the client's driver, for the reads written by hand; nil: none
}

var _ stock.Store = (*Store)(nil)

// Option tunes a Store.
type Option func(*Store)

// WithDriver gives the store the driver its client runs on (database.DB.Driver()), for the
// hottest read, Product, written by hand: ent's query builder and its generic scan were a
// third of that read's CPU. Without it every read goes through the client.
func WithDriver(drv dialect.Driver) Option { return func(s *Store) { s.drv = drv } }

// New returns a store on client.
func New(client *ent.Client, opts ...Option) *Store {
	s := &Store{client: client}
	for _, o := range opts {
		o(s)
	}
	return s
}

// inTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx *ent.Tx) error) (err error) {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			_ = tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func isUnique(err error) bool {
	return ent.IsConstraintError(err) && sqlgraph.IsUniqueConstraintError(err)
}
