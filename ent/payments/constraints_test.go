package payments_test

import (
	"testing"

	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/payments"
	"mercato.dev/ent/payments/migrate"
	"mercato.dev/ent/payments/payment"
)

func TestPaymentConstraints(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := dbtest.Open(t, url, migrate.Migrations)
		c := payments.NewClient(payments.Driver(db.Driver()))
		order := uuid.New()
		authorize := func() error {
			return c.Payment.Create().SetOrderID(order).SetCustomerID(uuid.New()).SetAmountMinor(1000).
				SetCurrency("EUR").SetPaymentMethod("card").SetStatus(payment.StatusAuthorized).Exec(ctx)
		}
		if err := authorize(); err != nil {
			t.Fatal(err)
		}
		if err := authorize(); !payments.IsConstraintError(err) {
			t.Errorf("second payment of the order: got %v, want a constraint error", err)
		}
	})
}
