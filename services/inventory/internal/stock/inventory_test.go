package stock_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"mercato.dev/services/inventory/internal/stock"
)

// listStore records the limit ListProducts asks the store for and has n products.
type listStore struct {
	stock.Store
	n     int
	limit int
}

func (s *listStore) ListProducts(_ context.Context, _ string, limit int) ([]stock.Product, error) {
	s.limit = limit
	return make([]stock.Product, min(limit, s.n)), nil
}

func TestListProductsPageSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		pageSize, stock int
		wantLen         int
		wantMore        bool
	}{
		{"default", 0, 50, stock.DefaultPageSize, true},
		{"explicit", 5, 50, 5, true},
		{"capped", 1000, 500, stock.MaxPageSize, true},
		{"last page exactly full", 20, 20, 20, false},
		{"short last page", 20, 3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &listStore{n: tt.stock}
			got, more, err := stock.New(s).ListProducts(t.Context(), "", tt.pageSize)
			if err != nil || len(got) != tt.wantLen || more != tt.wantMore {
				t.Errorf("got %d products, more %v, %v; want %d, %v", len(got), more, err, tt.wantLen, tt.wantMore)
			}
			if s.limit != tt.wantLen+1 && tt.wantMore {
				t.Errorf("asked the store for %d, want one more than the page", s.limit)
			}
		})
	}
}

func TestReservationHoldsIgnoresOrder(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	r := stock.Reservation{Items: []stock.Item{{ProductID: a, Quantity: 1}, {ProductID: b, Quantity: 2}}}
	if !r.Holds([]stock.Item{{ProductID: b, Quantity: 2}, {ProductID: a, Quantity: 1}}) {
		t.Error("same items in another order not recognized")
	}
	if r.Holds([]stock.Item{{ProductID: a, Quantity: 1}, {ProductID: b, Quantity: 3}}) {
		t.Error("another quantity taken for the same reservation")
	}
	if r.Holds([]stock.Item{{ProductID: a, Quantity: 1}}) {
		t.Error("a subset taken for the same reservation")
	}
}
