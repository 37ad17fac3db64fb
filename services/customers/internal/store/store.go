// Package store keeps customers and signing keys in the customers database through its ent
// client, on SQLite or PostgreSQL alike.
package store

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/google/uuid"

	"mercato.dev/ent/customers"
	"mercato.dev/ent/customers/customer"
	"mercato.dev/ent/customers/signingkey"
	"mercato.dev/ent/database"

	domain "mercato.dev/services/customers/internal/customer"
	"mercato.dev/services/customers/internal/token"
)

var (
	_ domain.Store   = (*Store)(nil)
	_ token.KeyStore = (*Store)(nil)
)

// Store is the ent adapter of the customer and key stores.
type Store struct {
	client *customers.Client
	now    func() time.Time
}

// New returns a store on an open, migrated database.
func New(db *database.DB) *Store {
	return &Store{client: customers.NewClient(customers.Driver(db.Driver())), now: time.Now}
}

// timestamp is now in the form both engines keep exactly: UTC, microseconds.
func (s *Store) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Create inserts c; an email in use is domain.ErrEmailTaken.
func (s *Store) Create(ctx context.Context, c domain.Customer) (domain.Customer, error) {
	now := s.timestamp()
	row, err := s.client.Customer.Create().
		SetID(c.ID).SetEmail(c.Email).SetDisplayName(c.DisplayName).SetPasswordHash(c.PasswordHash).
		SetRoles(c.Roles).SetStatus(customer.Status(c.Status)).SetCreateTime(now).SetUpdateTime(now).
		Save(ctx)
	if err != nil {
		return domain.Customer{}, mapErr(err)
	}
	return toDomain(row), nil
}

// Get returns the customer with id.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (domain.Customer, error) {
	row, err := s.client.Customer.Get(ctx, id)
	if err != nil {
		return domain.Customer{}, mapErr(err)
	}
	return toDomain(row), nil
}

// GetByEmail returns the customer with the (lower-cased) email.
func (s *Store) GetByEmail(ctx context.Context, email string) (domain.Customer, error) {
	row, err := s.client.Customer.Query().Where(customer.Email(email)).Only(ctx)
	if err != nil {
		return domain.Customer{}, mapErr(err)
	}
	return toDomain(row), nil
}

// Update applies ch in one statement.
func (s *Store) Update(ctx context.Context, id uuid.UUID, ch domain.Changes) (domain.Customer, error) {
	u := s.client.Customer.UpdateOneID(id).
		SetNillableDisplayName(ch.DisplayName).SetNillableEmail(ch.Email).SetUpdateTime(s.timestamp())
	if ch.Status != nil {
		u.SetStatus(customer.Status(*ch.Status))
	}
	row, err := u.Save(ctx)
	if err != nil {
		return domain.Customer{}, mapErr(err)
	}
	return toDomain(row), nil
}

func toDomain(row *customers.Customer) domain.Customer {
	return domain.Customer{
		ID: row.ID, Email: row.Email, DisplayName: row.DisplayName, PasswordHash: row.PasswordHash,
		Roles: row.Roles, Status: domain.Status(row.Status),
		CreateTime: row.CreateTime.UTC(), UpdateTime: row.UpdateTime.UTC(),
	}
}

// mapErr turns ent's not-found and unique-violation errors into the domain's; the email is the
// only unique column a caller can collide on.
func mapErr(err error) error {
	switch {
	case customers.IsNotFound(err):
		return domain.ErrNotFound
	case sqlgraph.IsUniqueConstraintError(err):
		return domain.ErrEmailTaken
	default:
		return fmt.Errorf("customers store: %w", err)
	}
}

// Keys returns every stored signing key, retired ones included.
func (s *Store) Keys(ctx context.Context) ([]token.StoredKey, error) {
	rows, err := s.client.SigningKey.Query().Order(signingkey.ByCreateTime()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	keys := make([]token.StoredKey, 0, len(rows))
	for _, r := range rows {
		keys = append(keys, token.StoredKey{
			Kid: r.Kid, PrivatePEM: r.PrivateKeyPem, CreateTime: r.CreateTime.UTC(), Retired: r.Retired,
		})
	}
	return keys, nil
}

// AddKey stores a new signing key.
func (s *Store) AddKey(ctx context.Context, k token.StoredKey) error {
	err := s.client.SigningKey.Create().
		SetKid(k.Kid).SetPrivateKeyPem(k.PrivatePEM).SetRetired(k.Retired).
		SetCreateTime(k.CreateTime.UTC().Truncate(time.Microsecond)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("add signing key %s: %w", k.Kid, err)
	}
	return nil
}

// RetireKey marks a key retired: it no longer signs nor appears in the JWKS.
func (s *Store) RetireKey(ctx context.Context, kid string) error {
	if _, err := s.client.SigningKey.Update().Where(signingkey.Kid(kid)).SetRetired(true).Save(ctx); err != nil {
		return fmt.Errorf("retire signing key %s: %w", kid, err)
	}
	return nil
}
