package rpc

import (
	"context"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/inventory/internal/stock"
)

// ReserveStock holds stock for an order, all items or none; a retry returns the reservation.
func (h *Handler) ReserveStock(ctx context.Context, req *inventoryv1.ReserveStockRequest) (*inventoryv1.ReserveStockResponse, error) {
	order, err := parseID("order_id", req.GetOrderId())
	if err != nil {
		return nil, err
	}
	items := make([]stock.Item, len(req.GetItems()))
	for i, it := range req.GetItems() {
		if items[i].ProductID, err = parseID("items.product_id", it.GetProductId()); err != nil {
			return nil, err
		}
		items[i].Quantity = int64(it.GetQuantity())
	}
	r, err := h.inv.Reserve(ctx, order, items)
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &inventoryv1.ReserveStockResponse{Reservation: toReservation(r)}, nil
}

// ReleaseStock returns an order's units to available stock, once.
func (h *Handler) ReleaseStock(ctx context.Context, req *inventoryv1.ReleaseStockRequest) (*inventoryv1.ReleaseStockResponse, error) {
	order, err := parseID("order_id", req.GetOrderId())
	if err != nil {
		return nil, err
	}
	r, err := h.inv.Release(ctx, order)
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &inventoryv1.ReleaseStockResponse{Reservation: toReservation(r)}, nil
}
