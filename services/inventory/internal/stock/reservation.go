package stock

import (
	"bytes"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Item is a quantity of one product. In a reservation, UnitPrice is the product's price when
// the stock was reserved (read in the same transaction); it is not part of a request.
type Item struct {
	ProductID uuid.UUID
	Quantity  int64
	UnitPrice Money
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

// Holds reports whether r holds exactly items (products and quantities, in any order; prices
// are the reservation's own).
func (r Reservation) Holds(items []Item) bool {
	return slices.EqualFunc(SortItems(r.Items), SortItems(items), func(a, b Item) bool {
		return a.ProductID == b.ProductID && a.Quantity == b.Quantity
	})
}
