package inventory_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/inventory"
	"mercato.dev/ent/inventory/migrate"
	"mercato.dev/ent/inventory/product"
	"mercato.dev/ent/inventory/reservation"
)

func openClient(t *testing.T, url string) *inventory.Client {
	t.Helper()
	db := dbtest.Open(t, url, migrate.Migrations)
	return inventory.NewClient(inventory.Driver(db.Driver()))
}

func createProduct(t *testing.T, c *inventory.Client, sku string, available int64) *inventory.Product {
	t.Helper()
	p, err := c.Product.Create().SetSku(sku).SetName("Widget").SetPriceMinor(1999).
		SetCurrency("EUR").SetAvailable(available).Save(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// reserve is the reservation pattern: in one transaction, look for the order's reservation (a
// retry is a no-op), then one guarded update plus the reservation row. It reports whether the
// stock was there. Reading before writing is what makes SQLite need immediate transactions: a
// deferred one could not upgrade its read snapshot and would fail with "database is locked".
func reserve(ctx context.Context, c *inventory.Client, orderID, productID uuid.UUID, n int64) (bool, error) {
	tx, err := c.Tx(ctx)
	if err != nil {
		return false, err
	}
	done, err := tx.Reservation.Query().
		Where(reservation.OrderID(orderID), reservation.ProductID(productID)).Exist(ctx)
	if err != nil || done {
		return done, rollback(tx, err)
	}
	updated, err := tx.Product.Update().
		Where(product.ID(productID), product.AvailableGTE(n)).
		AddAvailable(-n).AddVersion(1).
		Save(ctx)
	if err != nil || updated == 0 {
		return false, rollback(tx, err)
	}
	err = tx.Reservation.Create().SetOrderID(orderID).SetProductID(productID).SetQuantity(n).Exec(ctx)
	if err != nil {
		return false, rollback(tx, err)
	}
	return true, tx.Commit()
}

func rollback(tx *inventory.Tx, err error) error {
	if rerr := tx.Rollback(); err == nil {
		return rerr
	}
	return err
}

// TestGuardedStockUpdate races 50 single-unit reservations for 20 units: exactly 20 succeed,
// none fails with "database is locked", and stock ends at zero, never below.
func TestGuardedStockUpdate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const stock, buyers = 20, 50
		c := openClient(t, url)
		p := createProduct(t, c, "SKU-RACE", stock)

		var (
			wg       sync.WaitGroup
			reserved atomic.Int64
			errs     = make(chan error, buyers)
		)
		for range buyers {
			wg.Go(func() {
				ok, err := reserve(t.Context(), c, uuid.New(), p.ID, 1)
				if err != nil {
					errs <- err
				}
				if ok {
					reserved.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("reserve: %v", err)
		}
		if got := reserved.Load(); got != stock {
			t.Errorf("%d reservations succeeded, want %d", got, stock)
		}
		after := c.Product.GetX(t.Context(), p.ID)
		if after.Available != 0 || after.Version != stock {
			t.Errorf("available %d version %d, want 0 and %d", after.Available, after.Version, stock)
		}
		if n := c.Reservation.Query().Where(reservation.ProductID(p.ID)).CountX(t.Context()); n != stock {
			t.Errorf("%d reservation rows, want %d", n, stock)
		}
	})
}

// TestStockNeverNegative shows the CHECK constraint refusing what an unguarded update would do.
func TestStockNeverNegative(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		c := openClient(t, url)
		p := createProduct(t, c, "SKU-CHECK", 1)
		err := c.Product.UpdateOneID(p.ID).AddAvailable(-2).Exec(t.Context())
		if !inventory.IsConstraintError(err) {
			t.Fatalf("unguarded update to -1: got %v, want a constraint error", err)
		}
		if got := c.Product.GetX(t.Context(), p.ID).Available; got != 1 {
			t.Errorf("available %d after the refused update, want 1", got)
		}
	})
}

// TestReserveRetry shows that a retried reservation of the same order takes no more stock.
func TestReserveRetry(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		c := openClient(t, url)
		p := createProduct(t, c, "SKU-RETRY", 5)
		order := uuid.New()
		for attempt := range 2 {
			if ok, err := reserve(t.Context(), c, order, p.ID, 3); !ok || err != nil {
				t.Fatalf("attempt %d: reserved %v, %v", attempt, ok, err)
			}
		}
		if got := c.Product.GetX(t.Context(), p.ID).Available; got != 2 {
			t.Errorf("available %d after a retried reservation of 3 out of 5, want 2", got)
		}
	})
}
