package orders_test

import (
	"testing"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders"
	"mercato.dev/ent/orders/migrate"
)

func TestOrderConstraints(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := dbtest.Open(t, url, migrate.Migrations)
		c := orders.NewClient(orders.Driver(db.Driver()))
		create := func(customer uuid.UUID, key string) (*orders.Order, error) {
			return c.Order.Create().SetCustomerID(customer).SetIdempotencyKey(key).
				SetRequestHash("ab12").SetTotalMinor(1000).SetCurrency("EUR").Save(ctx)
		}
		alice, bob := uuid.New(), uuid.New()
		first, err := create(alice, "key-1")
		if err != nil {
			t.Fatal(err)
		}

		t.Run("idempotency key per customer", func(t *testing.T) {
			if _, err := create(alice, "key-1"); !orders.IsConstraintError(err) {
				t.Errorf("alice reusing key-1: got %v, want a constraint error", err)
			}
			if _, err := create(bob, "key-1"); err != nil {
				t.Errorf("bob using key-1: %v", err)
			}
		})
		t.Run("product once per order", func(t *testing.T) {
			item := func() error {
				return c.OrderItem.Create().SetOrderID(first.ID).SetProductID(uuid.UUID{1}).
					SetQuantity(1).SetUnitPriceMinor(1000).Exec(ctx)
			}
			if err := item(); err != nil {
				t.Fatal(err)
			}
			if err := item(); !orders.IsConstraintError(err) {
				t.Errorf("same product twice: got %v, want a constraint error", err)
			}
		})
		t.Run("outbox event in the order's transaction", func(t *testing.T) {
			tr, err := c.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Order.UpdateOneID(first.ID).SetStatus("confirmed").Exec(ctx); err != nil {
				t.Fatal(err)
			}
			ev, err := tr.OutboxEvent.Create().SetSubject("orders.confirmed").SetPayload([]byte{1}).
				SetHeaders(map[string]string{"traceparent": "00-x"}).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Commit(); err != nil {
				t.Fatal(err)
			}
			got := c.OutboxEvent.GetX(ctx, ev.ID)
			if got.Status.String() != "pending" || got.Headers["traceparent"] != "00-x" || got.ClaimedUntil != nil {
				t.Errorf("outbox event read back as %+v", got)
			}
		})
	})
}
