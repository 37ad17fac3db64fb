// Package store keeps customers and signing keys in the customers database through its ent
// client, on SQLite or PostgreSQL alike.
package store

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"mercato.dev/ent/customers"
	"mercato.dev/ent/customers/customer"
	"mercato.dev/ent/customers/signingkey"
	"mercato.dev/ent/database"
	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/outbox"

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

// Update applies ch in one transaction. Setting an active customer inactive also writes a
// CustomerDeactivated event to the outbox in the same transaction, so that every service
// learns of it (and refuses the customer's earlier tokens) exactly when it is committed.
func (s *Store) Update(ctx context.Context, id uuid.UUID, ch domain.Changes) (domain.Customer, error) {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return domain.Customer{}, fmt.Errorf("customers store: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	before, err := tx.Customer.Get(ctx, id)
	if err != nil {
		return domain.Customer{}, mapErr(err)
	}
	now := s.timestamp()
	u := tx.Customer.UpdateOneID(id).
		SetNillableDisplayName(ch.DisplayName).SetNillableEmail(ch.Email).SetUpdateTime(now)
	if ch.Status != nil {
		u.SetStatus(customer.Status(*ch.Status))
	}
	row, err := u.Save(ctx)
	if err != nil {
		return domain.Customer{}, mapErr(err)
	}
	if before.Status == customer.StatusActive && row.Status == customer.StatusInactive {
		if err := deactivated(ctx, tx, id, now); err != nil {
			return domain.Customer{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return domain.Customer{}, mapErr(err)
	}
	return toDomain(row), nil
}

// deactivated writes, in tx, the outbox row announcing that the customer was deactivated at.
func deactivated(ctx context.Context, tx *customers.Tx, id uuid.UUID, at time.Time) error {
	ev, err := outbox.New(ctx, events.CustomerDeactivated, &customersv1.CustomerDeactivated{
		CustomerId: id.String(), OccurTime: timestamppb.New(at)})
	if err != nil {
		return err
	}
	eventID, err := uuid.Parse(ev.ID)
	if err != nil {
		return fmt.Errorf("outbox event ID %q: %w", ev.ID, err)
	}
	err = tx.OutboxEvent.Create().SetID(eventID).SetSubject(ev.Subject).SetPayload(ev.Payload).
		SetHeaders(ev.Headers).SetCreateTime(ev.CreateTime).Exec(ctx)
	if err != nil {
		return fmt.Errorf("write the deactivation event of customer %s: %w", id, err)
	}
	return nil
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
