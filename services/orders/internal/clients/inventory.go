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

// Inventory prices products and reserves stock through the inventory service.
type Inventory struct {
	c inventoryv1connect.InventoryServiceClient
}

var _ saga.Inventory = (*Inventory)(nil)

// NewInventory returns the adapter over a connection to inventory.
func NewInventory(conn *client.Conn) *Inventory {
	return &Inventory{c: inventoryv1connect.NewInventoryServiceClient(conn.HTTPClient, conn.BaseURL, conn.Options()...)}
}

// Price is the product's current unit price.
func (i *Inventory) Price(ctx context.Context, productID uuid.UUID) (order.Money, error) {
	res, err := i.c.GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: productID.String()})
	switch {
	case isCode(err, connect.CodeNotFound):
		return order.Money{}, fmt.Errorf("product %s: %w", productID, saga.ErrProductNotFound)
	case err != nil:
		return order.Money{}, fail("inventory.GetProduct", err)
	}
	p := res.GetProduct().GetPrice()
	return order.Money{Amount: p.GetAmountMinor(), Currency: p.GetCurrency()}, nil
}

// Reserve holds the stock of every line for the order, keyed by the order's ID.
func (i *Inventory) Reserve(ctx context.Context, orderID uuid.UUID, items []order.Item) error {
	req := &inventoryv1.ReserveStockRequest{OrderId: orderID.String()}
	for _, it := range items {
		req.Items = append(req.Items, &inventoryv1.ReservationItem{ProductId: it.ProductID.String(), Quantity: int32(it.Quantity)})
	}
	_, err := i.c.ReserveStock(ctx, req)
	switch {
	case err == nil:
		return nil
	case isCode(err, connect.CodeNotFound):
		return fmt.Errorf("inventory.ReserveStock: %w", saga.ErrProductNotFound)
	case isCode(err, connect.CodeFailedPrecondition):
		if short := shortages(err); len(short) > 0 {
			return &saga.OutOfStockError{Short: short}
		}
	}
	return fail("inventory.ReserveStock", err)
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
