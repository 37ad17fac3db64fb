package stock

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Page sizes of ListProducts.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Store keeps products, stock adjustments and reservations. Every method that moves stock does
// so in one transaction with a guarded update, so stock never goes negative.
type Store interface {
	// ListProducts returns up to limit products ordered by SKU, those after afterSKU ("" for
	// the first page).
	ListProducts(ctx context.Context, afterSKU string, limit int) ([]Product, error)
	Product(ctx context.Context, id uuid.UUID) (Product, error)       // ErrProductNotFound
	CreateProduct(ctx context.Context, p NewProduct) (Product, error) // ErrSKUTaken
	UpdateProduct(ctx context.Context, id uuid.UUID, c ProductChange) (Product, error)
	// AdjustStock applies and records a; a removal below zero is a *ShortageError.
	AdjustStock(ctx context.Context, a Adjustment) (Product, error)
	// Reserve holds items for the order, all or none: ErrProductNotFound, *ShortageError. When
	// the order already has a reservation it changes nothing and returns that one, created false.
	Reserve(ctx context.Context, orderID uuid.UUID, items []Item) (r Reservation, created bool, err error)
	// Release returns the order's reserved units to available stock, once, and returns the
	// reservation; found is false when the order has none.
	Release(ctx context.Context, orderID uuid.UUID) (r Reservation, found bool, err error)
}

// Inventory is the inventory service's use cases.
type Inventory struct {
	store Store
}

// New returns the use cases on store.
func New(store Store) *Inventory { return &Inventory{store: store} }

// ListProducts returns one page of the catalog after afterSKU and whether more follow.
// pageSize 0 means DefaultPageSize; larger than MaxPageSize means MaxPageSize.
func (inv *Inventory) ListProducts(ctx context.Context, afterSKU string, pageSize int) (products []Product, more bool, err error) {
	limit := min(cmp0(pageSize, DefaultPageSize), MaxPageSize)
	products, err = inv.store.ListProducts(ctx, afterSKU, limit+1)
	if err != nil {
		return nil, false, err
	}
	if len(products) > limit {
		return products[:limit], true, nil
	}
	return products, false, nil
}

func cmp0(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Product returns one product.
func (inv *Inventory) Product(ctx context.Context, id uuid.UUID) (Product, error) {
	return inv.store.Product(ctx, id)
}

// CreateProduct adds a product; its SKU must be free.
func (inv *Inventory) CreateProduct(ctx context.Context, p NewProduct) (Product, error) {
	return inv.store.CreateProduct(ctx, p)
}

// UpdateProduct changes the set fields of a product.
func (inv *Inventory) UpdateProduct(ctx context.Context, id uuid.UUID, c ProductChange) (Product, error) {
	return inv.store.UpdateProduct(ctx, id, c)
}

// AdjustStock adds or removes units; stock never goes below zero.
func (inv *Inventory) AdjustStock(ctx context.Context, a Adjustment) (Product, error) {
	if a.Delta == 0 {
		return Product{}, errors.New("adjust stock: delta must not be zero")
	}
	return inv.store.AdjustStock(ctx, a)
}

// Reserve holds items for an order, all or none. A retry for an order that holds exactly
// these items returns the existing reservation; an order released before, or holding other
// items, is refused.
func (inv *Inventory) Reserve(ctx context.Context, orderID uuid.UUID, items []Item) (Reservation, error) {
	r, created, err := inv.store.Reserve(ctx, orderID, SortItems(items))
	switch {
	case err != nil:
		return Reservation{}, err
	case created:
		return r, nil
	case r.State == Released:
		return Reservation{}, fmt.Errorf("reserve for order %s: %w", orderID, ErrReleased)
	case !r.Holds(items):
		return Reservation{}, fmt.Errorf("reserve for order %s: %w", orderID, ErrOtherItems)
	}
	return r, nil
}

// Release returns an order's units to available stock exactly once. Releasing again, or
// releasing an order that reserved nothing, changes nothing and succeeds: the latter answers
// an empty released reservation.
func (inv *Inventory) Release(ctx context.Context, orderID uuid.UUID) (Reservation, error) {
	r, found, err := inv.store.Release(ctx, orderID)
	if err != nil {
		return Reservation{}, err
	}
	if !found {
		return Reservation{OrderID: orderID, State: Released}, nil
	}
	return r, nil
}
