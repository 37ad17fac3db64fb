// Package customer is the customers service's domain: accounts, their roles and status, and the
// use cases that create, read, change and sign in to them. It knows nothing of transport or
// storage: it talks to a Store, a password Hasher and a token Issuer through the small interfaces
// declared here.
package customer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Status tells whether a customer may sign in and place orders.
type Status string

// Statuses of a customer.
const (
	StatusActive   Status = "active"
	StatusInactive Status = "inactive"
)

// Roles a customer can hold; they become the token's roles claim.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// Customer is an account.
type Customer struct {
	ID           uuid.UUID
	Email        string // lower-cased
	DisplayName  string
	PasswordHash string // PHC string; never leaves the service
	Roles        []string
	Status       Status
	CreateTime   time.Time
	UpdateTime   time.Time
}

// IsAdmin reports whether the customer holds the admin role.
func (c Customer) IsAdmin() bool { return slices.Contains(c.Roles, RoleAdmin) }

// Changes are the fields an update sets; nil leaves a field as it is.
type Changes struct {
	DisplayName *string
	Email       *string
	Status      *Status
}

// Errors of the use cases. Anything else is an infrastructure failure.
var (
	ErrNotFound       = errors.New("customer not found")
	ErrEmailTaken     = errors.New("email already in use")
	ErrBadCredentials = errors.New("wrong email or password")
	ErrInactive       = errors.New("customer is inactive")
)

// NormalizeEmail is the form emails are stored and looked up in: addresses differing only in
// case are the same account.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Store keeps customers. Create and Update return ErrEmailTaken for an email another customer
// has; Get, GetByEmail and Update return ErrNotFound for an unknown customer.
type Store interface {
	Create(ctx context.Context, c Customer) (Customer, error)
	Get(ctx context.Context, id uuid.UUID) (Customer, error)
	GetByEmail(ctx context.Context, email string) (Customer, error)
	Update(ctx context.Context, id uuid.UUID, ch Changes) (Customer, error)
}

// Hasher turns passwords into slow salted hashes and checks them.
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	// Dummy is an encoded hash that no password matches and that costs Verify what a fresh
	// Hash's result costs: what SignIn checks an unknown email against. It must not hash.
	Dummy() string
}

// Token is a signed access token.
type Token struct {
	Value     string
	ExpiresIn time.Duration
}

// Issuer signs access tokens for a subject with roles, valid for the returned duration.
type Issuer interface {
	Issue(subject string, roles []string) (token string, ttl time.Duration, err error)
}
