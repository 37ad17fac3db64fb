package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	ent "mercato.dev/ent/inventory"
	"mercato.dev/ent/inventory/orderhold"
	"mercato.dev/ent/inventory/product"
	"mercato.dev/ent/inventory/reservation"
	"mercato.dev/services/inventory/internal/stock"
)

// Reserve holds items (sorted by product ID) for the order in one transaction: the order's hold
// row first (see holdOrder), then the reservation rows, which claim the order (unique order_id,
// product_id), then one guarded update per product. Any short product rolls everything back. A
// concurrent reservation of the same order loses on the unique index, rolls back, and returns
// the winner's reservation with created false, as a retry does. An order already released gets
// a released reservation with created false, which the domain refuses.
func (s *Store) Reserve(ctx context.Context, orderID uuid.UUID, items []stock.Item) (stock.Reservation, bool, error) {
	var (
		out     stock.Reservation
		created bool
	)
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		first, released, err := s.holdOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if !first { // reserved or released before: a retry, or a reservation after its release
			existing, found, err := reservationOf(ctx, tx.Reservation, orderID)
			if err != nil || found {
				out = existing
				return err
			}
			if released { // released before this reservation arrived: hold nothing
				out = stock.Reservation{OrderID: orderID, State: stock.Released}
				return nil
			}
		}
		rows, err := s.takeStock(ctx, tx, orderID, items)
		if err != nil {
			return err
		}
		out, created = toReservation(orderID, rows), true
		return nil
	})
	if isUnique(err) { // another call for the same order committed first
		out, _, err = reservationOf(ctx, s.client.Reservation, orderID)
		created = false
	}
	if err != nil {
		return stock.Reservation{}, false, fmt.Errorf("reserve stock for order %s: %w", orderID, err)
	}
	return out, created, nil
}

// holdOrder is Reserve's first write: the order's hold row, inserted unless it exists. It
// reports whether this call inserted it (first: no reservation or release of the order ran
// before, since both write this row first) and otherwise whether the order was released
// already. Release writes the same row first, so the two serialize on it: on PostgreSQL the
// later insert or upsert waits for the earlier transaction, and its following reads see what
// that one committed.
func holdOrder(ctx context.Context, tx *ent.Tx, orderID uuid.UUID) (first, released bool, err error) {
	err = tx.OrderHold.Create().SetID(orderID).OnConflictColumns(orderhold.FieldID).DoNothing().Exec(ctx)
	switch {
	case err == nil:
		return true, false, nil
	case !errors.Is(err, sql.ErrNoRows): // DoNothing on a conflict inserts no row
		return false, false, err
	}
	hold, err := tx.OrderHold.Get(ctx, orderID)
	if err != nil {
		return false, false, err
	}
	return false, hold.State == orderhold.StateReleased, nil
}

// markReleased is Release's first write: the order's hold row, released whether it existed or
// not, so a reservation arriving later is refused.
func markReleased(ctx context.Context, tx *ent.Tx, orderID uuid.UUID) error {
	return tx.OrderHold.Create().SetID(orderID).SetState(orderhold.StateReleased).
		OnConflictColumns(orderhold.FieldID).
		Update(func(u *ent.OrderHoldUpsert) { u.SetState(orderhold.StateReleased).UpdateUpdateTime() }).
		Exec(ctx)
}

// takeStock writes the reservation rows, each with its product's unit price as read in this
// transaction, and moves the stock, or returns why it cannot. It returns the rows written.
func takeStock(ctx context.Context, tx *ent.Tx, orderID uuid.UUID, items []stock.Item) ([]*ent.Reservation, error) {
	prices, err := productPrices(ctx, tx, items)
	if err != nil {
		return nil, err
	}
	builders := make([]*ent.ReservationCreate, len(items))
	for i, it := range items {
		p := prices[it.ProductID]
		builders[i] = tx.Reservation.Create().SetOrderID(orderID).SetProductID(it.ProductID).SetQuantity(it.Quantity).
			SetUnitPriceMinor(p.AmountMinor).SetCurrency(p.Currency)
	}
	rows, err := tx.Reservation.CreateBulk(builders...).Save(ctx)
	if err != nil {
		return nil, err
	}
	var short []stock.Item
	for _, it := range items {
		n, err := tx.Product.Update().
			Where(product.ID(it.ProductID), product.AvailableGTE(it.Quantity)).
			AddAvailable(-it.Quantity).AddVersion(1).
			Save(ctx)
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

// productPrices reads the unit price of every item's product in one query, or returns
// stock.ErrProductNotFound for the first product that does not exist. Within Reserve's
// transaction: on SQLite the transaction holds the write lock from its first write (the hold
// row) on, so no price changes until it commits; on PostgreSQL a price change that commits
// after this read is ordered after the reservation, which keeps the price it read.
func productPrices(ctx context.Context, tx *ent.Tx, items []stock.Item) (map[uuid.UUID]stock.Money, error) {
	ids := make([]uuid.UUID, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	var rows []struct {
		ID         uuid.UUID `json:"id"`
		PriceMinor int64     `json:"price_minor"`
		Currency   string    `json:"currency"`
	}
	err := tx.Product.Query().Where(product.IDIn(ids...)).
		Select(product.FieldID, product.FieldPriceMinor, product.FieldCurrency).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	prices := make(map[uuid.UUID]stock.Money, len(rows))
	for _, r := range rows {
		prices[r.ID] = stock.Money{AmountMinor: r.PriceMinor, Currency: r.Currency}
	}
	for _, id := range ids {
		if _, ok := prices[id]; !ok {
			return nil, fmt.Errorf("product %s: %w", id, stock.ErrProductNotFound)
		}
	}
	return prices, nil
}

// shortage reads the stock of the short items, for the error's details.
func shortage(ctx context.Context, tx *ent.Tx, short []stock.Item) error {
	e := &stock.ShortageError{}
	for _, it := range short {
		row, err := tx.Product.Get(ctx, it.ProductID)
		if err != nil {
			return err
		}
		e.Shortages = append(e.Shortages, stock.Shortage{ProductID: it.ProductID, Requested: it.Quantity, Available: row.Available})
	}
	return e
}

// Release marks the order released (see markReleased), then its reserved rows released and gives their units back, in one
// transaction. Each row is flipped with a guarded update (state = reserved) before its units
// return, so of two concurrent releases only one gives the units back.
func (s *Store) Release(ctx context.Context, orderID uuid.UUID) (stock.Reservation, bool, error) {
	var (
		out   stock.Reservation
		found bool
	)
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		if err := markReleased(ctx, tx, orderID); err != nil {
			return err
		}
		rows, err := tx.Reservation.Query().
			Where(reservation.OrderID(orderID), reservation.StateEQ(reservation.StateReserved)).
			Order(reservation.ByProductID()).All(ctx)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := giveBack(ctx, tx, row); err != nil {
				return err
			}
		}
		out, found, err = reservationOf(ctx, tx.Reservation, orderID)
		return err
	})
	if err != nil {
		return stock.Reservation{}, false, fmt.Errorf("release stock of order %s: %w", orderID, err)
	}
	return out, found, nil
}

func giveBack(ctx context.Context, tx *ent.Tx, row *ent.Reservation) error {
	n, err := tx.Reservation.Update().
		Where(reservation.ID(row.ID), reservation.StateEQ(reservation.StateReserved)).
		SetState(reservation.StateReleased).Save(ctx)
	if err != nil || n == 0 { // n == 0: a concurrent release got there first
		return err
	}
	return tx.Product.UpdateOneID(row.ProductID).AddAvailable(row.Quantity).AddVersion(1).Exec(ctx)
}

// reservationOf reads the order's reservation rows as one reservation, at the prices stored
// with them. Rows reserved before prices were stored (null) carry their product's current
// price, as the order that reserved them was priced apart from the reservation.
func reservationOf(ctx context.Context, c *ent.ReservationClient, orderID uuid.UUID) (stock.Reservation, bool, error) {
	q := c.Query().Where(reservation.OrderID(orderID)).Order(reservation.ByProductID())
	rows, err := q.Clone().All(ctx)
	if err != nil || len(rows) == 0 {
		return stock.Reservation{}, false, err
	}
	for _, row := range rows {
		if row.UnitPriceMinor == nil || row.Currency == nil {
			if rows, err = q.WithProduct().All(ctx); err != nil {
				return stock.Reservation{}, false, err
			}
			break
		}
	}
	return toReservation(orderID, rows), true, nil
}

// toReservation is the order's reservation made of its rows.
func toReservation(orderID uuid.UUID, rows []*ent.Reservation) stock.Reservation {
	rows = slices.SortedFunc(slices.Values(rows), func(a, b *ent.Reservation) int { return bytes.Compare(a.ProductID[:], b.ProductID[:]) })
	r := stock.Reservation{OrderID: orderID, State: stock.Reserved, CreateTime: storedTime(rows[0].CreateTime), UpdateTime: storedTime(rows[0].UpdateTime)}
	for _, row := range rows {
		r.Items = append(r.Items, stock.Item{ProductID: row.ProductID, Quantity: row.Quantity, UnitPrice: unitPrice(row)})
		if row.State == reservation.StateReleased {
			r.State = stock.Released
		}
		if t := storedTime(row.CreateTime); t.Before(r.CreateTime) {
			r.CreateTime = t
		}
		if t := storedTime(row.UpdateTime); t.After(r.UpdateTime) {
			r.UpdateTime = t
		}
	}
	return r
}

// unitPrice is the price a reservation row was made at: stored with it, or, for a row reserved
// before prices were stored, its product's current price when the product was loaded with it.
func unitPrice(row *ent.Reservation) stock.Money {
	switch p := row.Edges.Product; {
	case row.UnitPriceMinor != nil && row.Currency != nil:
		return stock.Money{AmountMinor: *row.UnitPriceMinor, Currency: *row.Currency}
	case p != nil:
		return stock.Money{AmountMinor: p.PriceMinor, Currency: p.Currency}
	}
	return stock.Money{}
}
