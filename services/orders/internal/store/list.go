package store

import (
	"context"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	entorder "mercato.dev/ent/orders/order"

	"mercato.dev/services/orders/internal/order"
)

// List returns one page of the customer's orders, newest first (ties broken by ID), and the
// cursor of the next page (zero on the last page).
func (s *Store) List(ctx context.Context, p order.Page) ([]order.Order, order.Cursor, error) {
	q := s.c.Order.Query().Where(entorder.CustomerID(p.CustomerID))
	if !p.After.IsZero() {
		t := p.After.CreateTime
		q.Where(entorder.Or(
			entorder.CreateTimeLT(t),
			entorder.And(entorder.CreateTime(t), entorder.IDLT(p.After.ID)),
		))
	}
	rows, err := q.Order(entorder.ByCreateTime(entsql.OrderDesc()), entorder.ByID(entsql.OrderDesc())).
		Limit(p.Size + 1).WithItems(byProduct).All(ctx)
	if err != nil {
		return nil, order.Cursor{}, fmt.Errorf("list orders: %w", err)
	}
	var next order.Cursor
	if len(rows) > p.Size {
		rows = rows[:p.Size]
		last := rows[len(rows)-1]
		next = order.Cursor{CreateTime: order.Now(last.CreateTime), ID: last.ID}
	}
	out := make([]order.Order, len(rows))
	for i, r := range rows {
		out[i] = toOrder(r)
	}
	return out, next, nil
}
