package stock

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Errors of the inventory rules. Stores return them (wrapped); handlers map them to codes.
var (
	ErrProductNotFound = errors.New("product not found")
	ErrSKUTaken        = errors.New("sku already in use")
	// ErrReleased refuses to reserve again for an order whose reservation was released.
	ErrReleased = errors.New("the order's reservation was released")
	// ErrOtherItems refuses a reservation for an order that already holds different items.
	ErrOtherItems = errors.New("the order already holds a reservation of other items")
)

// Shortage is one product without enough available stock.
type Shortage struct {
	ProductID uuid.UUID
	Requested int64
	Available int64
}

// ShortageError refuses a stock move that would make stock negative; it lists every short
// product. Nothing was changed.
type ShortageError struct {
	Shortages []Shortage
}

func (e *ShortageError) Error() string {
	parts := make([]string, len(e.Shortages))
	for i, s := range e.Shortages {
		parts[i] = fmt.Sprintf("%s: requested %d, available %d", s.ProductID, s.Requested, s.Available)
	}
	return "insufficient stock: " + strings.Join(parts, "; ")
}
