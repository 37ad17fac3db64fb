package stock

import (
	"time"

	"github.com/google/uuid"
)

// Money is an amount in the minor unit of a currency.
type Money struct {
	AmountMinor int64
	Currency    string // ISO 4217, upper case
}

// Product is a sellable item with its price and the units available to reserve.
type Product struct {
	ID          uuid.UUID
	SKU         string
	Name        string
	Description string
	Price       Money
	Available   int64
	CreateTime  time.Time
	UpdateTime  time.Time
}

// NewProduct describes a product to add to the catalog.
type NewProduct struct {
	SKU          string
	Name         string
	Description  string
	Price        Money
	InitialStock int64
}

// ProductChange lists the fields to change; nil leaves a field as it is.
type ProductChange struct {
	Name        *string
	Description *string
	Price       *Money
}

// Adjustment is an administrative change of a product's stock, recorded for the audit trail.
type Adjustment struct {
	ProductID uuid.UUID
	Delta     int64 // units added (> 0) or removed (< 0)
	Reason    string
}
