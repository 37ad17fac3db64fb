package store

import (
	"mercato.dev/ent/orders"

	"mercato.dev/services/orders/internal/order"
)

func toOrder(row *orders.Order) order.Order {
	o := order.Order{
		ID:             row.ID,
		CustomerID:     row.CustomerID,
		IdempotencyKey: row.IdempotencyKey,
		RequestHash:    row.RequestHash,
		PaymentMethod:  row.PaymentMethod,
		CancelReason:   row.CancelReason,
		Status:         order.Status(row.Status),
		Reason:         order.Reason(row.RejectReason),
		Step:           order.Step(row.SagaStep),
		PaymentID:      row.PaymentID,
		Attempts:       row.Attempts,
		Lease:          order.Lease{Owner: row.LeaseOwner},
		CreateTime:     order.Now(row.CreateTime),
		UpdateTime:     order.Now(row.UpdateTime),
	}
	if row.LeaseExpiresAt != nil {
		o.Lease.ExpiresAt = order.Now(*row.LeaseExpiresAt)
	}
	if row.Currency != unpriced {
		o.Total = &order.Money{Amount: row.TotalMinor, Currency: row.Currency}
	}
	for _, it := range row.Edges.Items {
		o.Items = append(o.Items, order.Item{ProductID: it.ProductID, Quantity: it.Quantity, UnitPrice: it.UnitPriceMinor})
	}
	return o
}
