package stock

import (
	"bytes"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Item is a quantity of one product.
type Item struct {
	ProductID uuid.UUID
	Quantity  int64
}

// State is where a reservation is in its life.
type State int

// States of a reservation.
const (
	Reserved State = iota + 1 // units are held for the order
	Released                  // units went back to available stock
)

// Reservation is the stock held for one order: one row per product, reserved and released together.
type Reservation struct {
	OrderID    uuid.UUID
	Items      []Item
	State      State
	CreateTime time.Time
	UpdateTime time.Time
}

// SortItems orders items by product ID, the order in which stores lock products so that two
// transactions never wait for each other in a cycle.
func SortItems(items []Item) []Item {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b Item) int { return bytes.Compare(a.ProductID[:], b.ProductID[:]) })
	return sorted
}

// Holds reports whether r holds exactly items (in any order).
func (r Reservation) Holds(items []Item) bool {
	return slices.Equal(SortItems(r.Items), SortItems(items))
}
