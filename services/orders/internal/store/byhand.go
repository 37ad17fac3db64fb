package store

import (
	"context"
	"fmt"
	"strings"

	"entgo.io/ent/dialect/sql/sqlgraph"

	"mercato.dev/ent/database"
	"mercato.dev/ent/orders"
	"mercato.dev/ent/orders/orderitem"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

// A confirmed order is two transactions of this store, Create and Advance, and their statements
// are written by hand: ent's builders, mutations and specs were a tenth of orders' CPU under
// CreateOrder (profile at c=16, samples with ent's frames and none of database/sql's or
// SQLite's: 116 of 1219 µs per order), more than some of the statements they build. They are
// the statements ent writes, with its defaults (UUIDv7 IDs for the lines); the store's suite
// runs on them, on SQLite and PostgreSQL. ent's field validators do not run here: what they
// check (lengths, enums) was checked where the order was made (protovalidate, package order),
// and the database's own constraints still hold.

// createByHand is Create's transaction: the order, then its lines in one insert.
func (s *Store) createByHand(ctx context.Context, tx *orders.Tx, o order.Order) error {
	a := database.NewArgs(s.dialect)
	_, err := tx.ExecContext(ctx, `INSERT INTO "orders" ("id", "create_time", "update_time", "customer_id", "idempotency_key", `+
		`"request_hash", "status", "total_minor", "currency", "saga_step", "lease_owner", "lease_expires_at", "attempts", `+
		`"payment_method") VALUES (`+a.List(14)+`)`,
		o.ID, o.CreateTime, o.UpdateTime, o.CustomerID, o.IdempotencyKey,
		o.RequestHash, string(o.Status), 0, unpriced, string(o.Step), o.Lease.Owner, o.Lease.ExpiresAt, 0,
		o.PaymentMethod)
	if sqlgraph.IsConstraintError(err) {
		return saga.ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	a = database.NewArgs(s.dialect)
	var q strings.Builder
	args := make([]any, 0, 5*len(o.Items))
	q.WriteString(`INSERT INTO "order_items" ("id", "product_id", "quantity", "unit_price_minor", "order_id") VALUES `)
	for i, it := range o.Items {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + a.List(5) + ")")
		args = append(args, orderitem.DefaultID(), it.ProductID, it.Quantity, it.UnitPrice, o.ID)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("insert order items: %w", err)
	}
	return nil
}

// advanceByHand is Advance's guarded update of the order; it reports whether it changed it.
func (s *Store) advanceByHand(ctx context.Context, tx *orders.Tx, owner string, from order.Step, o order.Order) (bool, error) {
	a := database.NewArgs(s.dialect)
	var q strings.Builder
	args := make([]any, 0, 12)
	set := func(col string, v any) {
		if len(args) > 0 {
			q.WriteString(", ")
		}
		q.WriteString(`"` + col + `" = ` + a.Next())
		args = append(args, v)
	}
	q.WriteString(`UPDATE "orders" SET `)
	set("status", string(o.Status))
	set("saga_step", string(o.Step))
	set("reject_reason", string(o.Reason))
	set("cancel_reason", o.CancelReason)
	if o.PaymentID != nil {
		set("payment_id", *o.PaymentID)
	}
	set("update_time", updateTime(o))
	if o.Total != nil {
		set("total_minor", o.Total.Amount)
		set("currency", o.Total.Currency)
	}
	if o.Settled() {
		q.WriteString(`, "lease_owner" = NULL, "lease_expires_at" = NULL`)
	}
	q.WriteString(` WHERE "id" = ` + a.Next() + ` AND "lease_owner" = ` + a.Next() + ` AND "saga_step" = ` + a.Next())
	args = append(args, o.ID, owner, string(from))
	res, err := tx.ExecContext(ctx, q.String(), args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// priceItemsByHand is priceItems: each line's unit price, from the reservation.
func (s *Store) priceItemsByHand(ctx context.Context, tx *orders.Tx, o order.Order) error {
	a := database.NewArgs(s.dialect)
	update := `UPDATE "order_items" SET "unit_price_minor" = ` + a.Next() + ` WHERE "order_id" = ` + a.Next() + ` AND "product_id" = ` + a.Next()
	for _, it := range o.Items {
		if _, err := tx.ExecContext(ctx, update, it.UnitPrice, o.ID, it.ProductID); err != nil {
			return fmt.Errorf("price order item: %w", err)
		}
	}
	return nil
}
