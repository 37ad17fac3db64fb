package clients

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/services/kit/client"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

// Inventory reserves stock, at prices, through the inventory service.
type Inventory struct {
	c inventoryv1connect.InventoryServiceClient
}

var _ saga.Inventory = (*Inventory)(nil)

// NewInventory returns the adapter over a connection to inventory.
func NewInventory(conn *client.Conn) *Inventory {
	return &Inventory{c: inventoryv1connect.NewInventoryServiceClient(conn.HTTPClient, conn.BaseURL, conn.Options()...)}
}

// Reserve holds the stock of every line for the order, keyed by the order's ID, and returns
// the unit price of each product the reservation answers (the stored ones on a retry). A
// reserved item with no price, or an unparsable product ID, is left out: the saga refuses
// a reservation that does not price every line.
func (i *Inventory) Reserve(ctx context.Context, orderID uuid.UUID, items []order.Item) (map[uuid.UUID]order.Money, error) {
	req := &inventoryv1.ReserveStockRequest{OrderId: orderID.String()}
	for _, it := range items {
		req.Items = append(req.Items, &inventoryv1.ReservationItem{ProductId: it.ProductID.String(), Quantity: int32(it.Quantity)})
	}
	res, err := i.c.ReserveStock(ctx, req)
	switch {
	case err == nil:
		prices := make(map[uuid.UUID]order.Money, len(items))
		for _, it := range res.GetReservation().GetItems() {
			id, perr := uuid.Parse(it.GetProductId())
			if p := it.GetUnitPrice(); perr == nil && p != nil {
				prices[id] = order.Money{Amount: p.GetAmountMinor(), Currency: p.GetCurrency()}
			}
		}
		return prices, nil
	case isCode(err, connect.CodeNotFound):
		return nil, fmt.Errorf("inventory.ReserveStock: %w", saga.ErrProductNotFound)
	case isCode(err, connect.CodeFailedPrecondition):
		if short := shortages(err); len(short) > 0 {
			return nil, &saga.OutOfStockError{Short: short}
		}
	}
	return nil, fail("inventory.ReserveStock", err)
}

// shortages reads the InsufficientStock details of a refused reservation.
func shortages(err error) []saga.Shortage {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil
	}
	var out []saga.Shortage
	for _, d := range ce.Details() {
		v, derr := d.Value()
		is, ok := v.(*inventoryv1.InsufficientStock)
		if derr != nil || !ok {
			continue
		}
		id, _ := uuid.Parse(is.GetProductId())
		out = append(out, saga.Shortage{ProductID: id, Requested: is.GetRequested(), Available: is.GetAvailable()})
	}
	return out
}

// Release returns the order's stock; an order with no reservation holds nothing.
func (i *Inventory) Release(ctx context.Context, orderID uuid.UUID) error {
	_, err := i.c.ReleaseStock(ctx, &inventoryv1.ReleaseStockRequest{OrderId: orderID.String()})
	if err == nil || isCode(err, connect.CodeNotFound) {
		return nil
	}
	return fail("inventory.ReleaseStock", err)
}
