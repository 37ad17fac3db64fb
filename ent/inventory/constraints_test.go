package inventory_test

import (
	"testing"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/inventory"
)

func TestUniqueConstraints(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		c := openClient(t, url)
		p := createProduct(t, c, "SKU-1", 10)

		t.Run("sku", func(t *testing.T) {
			err := c.Product.Create().SetSku("SKU-1").SetName("Copy").SetPriceMinor(1).
				SetCurrency("EUR").Exec(ctx)
			if !inventory.IsConstraintError(err) {
				t.Errorf("second product with SKU-1: got %v, want a constraint error", err)
			}
		})
		t.Run("reservation per order and product", func(t *testing.T) {
			order := uuid.New()
			if err := c.Reservation.Create().SetOrderID(order).SetProductID(p.ID).SetQuantity(1).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			err := c.Reservation.Create().SetOrderID(order).SetProductID(p.ID).SetQuantity(2).Exec(ctx)
			if !inventory.IsConstraintError(err) {
				t.Errorf("second reservation of the order: got %v, want a constraint error", err)
			}
		})
		t.Run("reservation of a missing product", func(t *testing.T) {
			err := c.Reservation.Create().SetOrderID(uuid.New()).SetProductID(uuid.New()).SetQuantity(1).Exec(ctx)
			if !inventory.IsConstraintError(err) {
				t.Errorf("reservation of no product: got %v, want a foreign key error", err)
			}
		})
	})
}
