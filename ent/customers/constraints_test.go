package customers_test

import (
	"testing"

	"entgo.io/ent/dialect/sql/sqlgraph"

	"mercato.dev/ent/customers"
	"mercato.dev/ent/customers/migrate"
	"mercato.dev/ent/dbtest"
)

func TestCustomerConstraints(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := dbtest.Open(t, url, migrate.Migrations)
		c := customers.NewClient(customers.Driver(db.Driver()))
		create := func(email string) error {
			return c.Customer.Create().SetEmail(email).SetDisplayName("Ada").SetPasswordHash("hash").Exec(ctx)
		}
		if err := create("ada@example.com"); err != nil {
			t.Fatal(err)
		}
		got := c.Customer.Query().OnlyX(ctx)
		if len(got.Roles) != 1 || got.Roles[0] != "customer" || got.Status.String() != "active" {
			t.Errorf("defaults: roles %v status %s, want [customer] active", got.Roles, got.Status)
		}

		t.Run("email unique", func(t *testing.T) {
			if err := create("ada@example.com"); !customers.IsConstraintError(err) {
				t.Errorf("second customer with the same email: got %v, want a constraint error", err)
			}
		})
		t.Run("email lower-cased", func(t *testing.T) {
			if err := create("Bob@example.com"); !customers.IsValidationError(err) {
				t.Errorf("mixed-case email: got %v, want a validation error", err)
			}
			_, err := db.SQL().ExecContext(ctx, `UPDATE customers SET email = 'ADA@example.com'`)
			if !sqlgraph.IsCheckConstraintError(err) {
				t.Errorf("mixed-case email past ent: got %v, want a CHECK violation", err)
			}
		})
		t.Run("signing key kid unique", func(t *testing.T) {
			key := func() error { return c.SigningKey.Create().SetKid("k1").SetPrivateKeyPem("pem").Exec(ctx) }
			if err := key(); err != nil {
				t.Fatal(err)
			}
			if err := key(); !customers.IsConstraintError(err) {
				t.Errorf("second key k1: got %v, want a constraint error", err)
			}
		})
	})
}
