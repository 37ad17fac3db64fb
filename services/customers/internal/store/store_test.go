package store_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/ent/customers/migrate"
	"mercato.dev/ent/dbtest"

	"mercato.dev/services/customers/internal/customer"
	"mercato.dev/services/customers/internal/store"
	"mercato.dev/services/customers/internal/token"
	"mercato.dev/services/customers/tokenverify"
)

func newCustomer(email string) customer.Customer {
	return customer.Customer{
		ID: uuid.New(), Email: email, DisplayName: "Ada", PasswordHash: "$argon2id$x",
		Roles: []string{customer.RoleCustomer}, Status: customer.StatusActive,
	}
}

func TestCustomerStore(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		st := store.New(dbtest.Open(t, url, migrate.Migrations))
		ada, err := st.Create(ctx, newCustomer("ada@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		bob, err := st.Create(ctx, newCustomer("bob@example.com"))
		if err != nil {
			t.Fatal(err)
		}

		t.Run("create then get", func(t *testing.T) {
			got, err := st.Get(ctx, ada.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != "ada@example.com" || got.DisplayName != "Ada" || got.PasswordHash != "$argon2id$x" ||
				!slices.Equal(got.Roles, []string{"customer"}) || got.Status != customer.StatusActive ||
				!got.CreateTime.Equal(ada.CreateTime) || time.Since(got.CreateTime) > time.Minute {
				t.Errorf("got %+v, created %+v", got, ada)
			}
			byEmail, err := st.GetByEmail(ctx, "ada@example.com")
			if err != nil || byEmail.ID != ada.ID {
				t.Errorf("GetByEmail: %+v %v", byEmail, err)
			}
		})
		t.Run("email unique", func(t *testing.T) {
			if _, err := st.Create(ctx, newCustomer("ada@example.com")); !errors.Is(err, customer.ErrEmailTaken) {
				t.Errorf("duplicate email: %v, want ErrEmailTaken", err)
			}
			taken := "ada@example.com"
			if _, err := st.Update(ctx, bob.ID, customer.Changes{Email: &taken}); !errors.Is(err, customer.ErrEmailTaken) {
				t.Errorf("update to a taken email: %v, want ErrEmailTaken", err)
			}
		})
		t.Run("update sets only what is given", func(t *testing.T) {
			name, email, off := "Robert", "robert@example.com", customer.StatusInactive
			got, err := st.Update(ctx, bob.ID, customer.Changes{DisplayName: &name})
			if err != nil || got.DisplayName != "Robert" || got.Email != "bob@example.com" {
				t.Fatalf("update name: %+v %v", got, err)
			}
			got, err = st.Update(ctx, bob.ID, customer.Changes{Email: &email, Status: &off})
			if err != nil || got.DisplayName != "Robert" || got.Email != "robert@example.com" || got.Status != customer.StatusInactive {
				t.Fatalf("update email and status: %+v %v", got, err)
			}
			if !got.UpdateTime.After(bob.UpdateTime) && !got.UpdateTime.Equal(bob.UpdateTime) {
				t.Errorf("update_time went back: %s → %s", bob.UpdateTime, got.UpdateTime)
			}
			reread, _ := st.Get(ctx, bob.ID)
			if reread.Email != "robert@example.com" || reread.Status != customer.StatusInactive {
				t.Errorf("after update, stored %+v", reread)
			}
		})
		t.Run("unknown customer", func(t *testing.T) {
			name := "x"
			if _, err := st.Get(ctx, uuid.New()); !errors.Is(err, customer.ErrNotFound) {
				t.Errorf("Get: %v", err)
			}
			if _, err := st.GetByEmail(ctx, "nobody@example.com"); !errors.Is(err, customer.ErrNotFound) {
				t.Errorf("GetByEmail: %v", err)
			}
			if _, err := st.Update(ctx, uuid.New(), customer.Changes{DisplayName: &name}); !errors.Is(err, customer.ErrNotFound) {
				t.Errorf("Update: %v", err)
			}
		})
	})
}

func TestSigningKeysArePersisted(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		first := token.New(store.New(dbtest.Open(t, url, migrate.Migrations)), token.Options{})
		if err := first.Init(ctx); err != nil {
			t.Fatal(err)
		}
		kid := first.SigningKid()
		tok, _, err := first.Issue("sub", []string{"customer"})
		if err != nil {
			t.Fatal(err)
		}

		// A restart: a new connection pool and keyring on the same database.
		st := store.New(dbtest.Open(t, url, migrate.Migrations))
		second := token.New(st, token.Options{})
		if err := second.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if second.SigningKid() != kid {
			t.Errorf("after restart the signing kid is %q, want the stored %q", second.SigningKid(), kid)
		}
		jwks, _ := json.Marshal(second.JWKS())
		if _, err := tokenverify.Verify(jwks, tok, time.Now()); err != nil || len(second.JWKS().Keys) != 1 {
			t.Errorf("a token from before the restart against the JWKS after it (%d keys): %v", len(second.JWKS().Keys), err)
		}

		newKid, err := second.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RetireKey(ctx, kid); err != nil {
			t.Fatal(err)
		}
		keys, err := st.Keys(ctx)
		if err != nil || len(keys) != 2 {
			t.Fatalf("Keys: %d keys, %v", len(keys), err)
		}
		if keys[0].Kid != kid || !keys[0].Retired || keys[1].Kid != newKid || keys[1].Retired || !keys[0].CreateTime.Before(keys[1].CreateTime) {
			t.Errorf("stored keys %v / %v, want the retired %s then the new %s", keys[0].Kid, keys[1].Kid, kid, newKid)
		}
		if err := first.Refresh(ctx); err != nil || len(first.JWKS().Keys) != 1 || first.JWKS().Keys[0].Kid != newKid {
			t.Errorf("another replica after refresh publishes %v (%v), want only %s", first.JWKS().Keys, err, newKid)
		}
	})
}
