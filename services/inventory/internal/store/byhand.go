package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"mercato.dev/ent/database"
	ent "mercato.dev/ent/inventory"
	"mercato.dev/ent/inventory/orderhold"
	"mercato.dev/ent/inventory/reservation"
	"mercato.dev/services/inventory/internal/stock"
)

// An order's first reservation is inventory's hottest write (every CreateOrder makes one). With
// the store's driver (WithDriver) its statements are written by hand, as Product's read is:
// ent's builders, mutations, specs and generic scans were a fifth of inventory's CPU under
// CreateOrder (profile at c=16, samples with ent's frames and none of database/sql's or
// SQLite's: 145 of 667 µs per order). They are the statements ent writes, with its defaults
// (UUIDv7 IDs, the time mixin's times, the enum defaults), in the same transaction; the tests
// run the same behaviour against both paths.

// holdOrder is holdOrder (see there) by hand: the insert, and ent's read on a conflict.
func (s *Store) holdOrder(ctx context.Context, tx *ent.Tx, orderID uuid.UUID) (first, released bool, err error) {
	if s.drv == nil {
		return holdOrder(ctx, tx, orderID)
	}
	now := time.Now()
	res, err := tx.ExecContext(ctx, `INSERT INTO "order_holds" ("id", "state", "create_time", "update_time") VALUES (`+
		database.NewArgs(s.drv.Dialect()).List(4)+`) ON CONFLICT ("id") DO NOTHING`, orderID, string(orderhold.DefaultState), now, now)
	if err != nil {
		return false, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, false, err
	}
	if n == 1 {
		return true, false, nil
	}
	hold, err := tx.OrderHold.Get(ctx, orderID)
	if err != nil {
		return false, false, err
	}
	return false, hold.State == orderhold.StateReleased, nil
}

// takeStock is takeStock (see there) by hand: the prices read, the reservation rows in one
// insert, one guarded update per product.
func (s *Store) takeStock(ctx context.Context, tx *ent.Tx, orderID uuid.UUID, items []stock.Item) ([]*ent.Reservation, error) {
	if s.drv == nil {
		return takeStock(ctx, tx, orderID, items)
	}
	prices, err := s.productPrices(ctx, tx, items)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rows := make([]*ent.Reservation, len(items))
	const cols = 9
	args := make([]any, 0, cols*len(items))
	a := database.NewArgs(s.drv.Dialect())
	var q strings.Builder
	q.WriteString(`INSERT INTO "reservations" ("id", "create_time", "update_time", "order_id", "product_id", "quantity", "state", "unit_price_minor", "currency") VALUES `)
	for i, it := range items {
		p := prices[it.ProductID]
		row := &ent.Reservation{ID: reservation.DefaultID(), CreateTime: now, UpdateTime: now, OrderID: orderID, ProductID: it.ProductID,
			Quantity: it.Quantity, State: reservation.StateReserved, UnitPriceMinor: &p.AmountMinor, Currency: &p.Currency}
		rows[i] = row
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + a.List(cols) + ")")
		args = append(args, row.ID, now, now, orderID, it.ProductID, it.Quantity, string(row.State), p.AmountMinor, p.Currency)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return nil, err
	}
	a = database.NewArgs(s.drv.Dialect())
	update := `UPDATE "products" SET "update_time" = ` + a.Next() + `, "available" = "available" - ` + a.Next() +
		`, "version" = "version" + 1 WHERE "id" = ` + a.Next() + ` AND "available" >= ` + a.Next()
	var short []stock.Item
	for _, it := range items {
		res, err := tx.ExecContext(ctx, update, now, it.Quantity, it.ProductID, it.Quantity)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			short = append(short, it)
		}
	}
	if len(short) > 0 {
		return nil, shortage(ctx, tx, short)
	}
	return rows, nil
}

// productPrices is productPrices (see there) by hand.
func (s *Store) productPrices(ctx context.Context, tx *ent.Tx, items []stock.Item) (map[uuid.UUID]stock.Money, error) {
	args := make([]any, len(items))
	for i, it := range items {
		args[i] = it.ProductID
	}
	rows, err := tx.QueryContext(ctx, `SELECT "id", "price_minor", "currency" FROM "products" WHERE "id" IN (`+
		database.NewArgs(s.drv.Dialect()).List(len(items))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	prices := make(map[uuid.UUID]stock.Money, len(items))
	for rows.Next() {
		var (
			id uuid.UUID
			m  stock.Money
		)
		if err := rows.Scan(&id, &m.AmountMinor, &m.Currency); err != nil {
			return nil, err
		}
		prices[id] = m
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, it := range items {
		if _, ok := prices[it.ProductID]; !ok {
			return nil, fmt.Errorf("product %s: %w", it.ProductID, stock.ErrProductNotFound)
		}
	}
	return prices, nil
}
