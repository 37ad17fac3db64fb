package customer

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Service runs the customer use cases.
type Service struct {
	store     Store
	hasher    Hasher
	issuer    Issuer
	dummyHash string // verified against when the email is unknown, so both failures cost the same
}

// NewService returns the use cases over store, hashing with hasher and signing with issuer.
// It hashes nothing: the dummy hash for unknown emails comes from hasher.Dummy.
func NewService(_ context.Context, store Store, hasher Hasher, issuer Issuer) (*Service, error) {
	return &Service{store: store, hasher: hasher, issuer: issuer, dummyHash: hasher.Dummy()}, nil
}

// NewCustomer is a sign-up.
type NewCustomer struct {
	Email       string
	Password    string
	DisplayName string
	Roles       []string // empty means [customer]
}

// Create registers an active customer.
func (s *Service) Create(ctx context.Context, n NewCustomer) (Customer, error) {
	hash, err := s.hasher.Hash(ctx, n.Password)
	if err != nil {
		return Customer{}, fmt.Errorf("create customer: %w", err)
	}
	roles := n.Roles
	if len(roles) == 0 {
		roles = []string{RoleCustomer}
	}
	c, err := s.store.Create(ctx, Customer{
		ID: uuid.New(), Email: NormalizeEmail(n.Email), DisplayName: n.DisplayName,
		PasswordHash: hash, Roles: roles, Status: StatusActive,
	})
	if err != nil {
		return Customer{}, fmt.Errorf("create customer: %w", err)
	}
	return c, nil
}

// Get returns one customer.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Customer, error) {
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return Customer{}, fmt.Errorf("get customer %s: %w", id, err)
	}
	return c, nil
}

// Update applies ch to the customer.
func (s *Service) Update(ctx context.Context, id uuid.UUID, ch Changes) (Customer, error) {
	if ch.Email != nil {
		email := NormalizeEmail(*ch.Email)
		ch.Email = &email
	}
	c, err := s.store.Update(ctx, id, ch)
	if err != nil {
		return Customer{}, fmt.Errorf("update customer %s: %w", id, err)
	}
	return c, nil
}

// SignIn checks the credentials and issues a token. A wrong email and a wrong password fail
// alike with ErrBadCredentials after the same amount of hashing; ErrInactive comes only after
// the right password.
func (s *Service) SignIn(ctx context.Context, email, password string) (Customer, Token, error) {
	c, err := s.store.GetByEmail(ctx, NormalizeEmail(email))
	hash := c.PasswordHash
	switch {
	case errors.Is(err, ErrNotFound):
		hash = s.dummyHash
	case err != nil:
		return Customer{}, Token{}, fmt.Errorf("sign in: %w", err)
	}
	ok, verr := s.hasher.Verify(ctx, password, hash)
	switch {
	case verr != nil:
		return Customer{}, Token{}, fmt.Errorf("sign in: %w", verr)
	case err != nil || !ok:
		return Customer{}, Token{}, ErrBadCredentials
	case c.Status != StatusActive:
		return Customer{}, Token{}, ErrInactive
	}
	tok, ttl, err := s.issuer.Issue(c.ID.String(), c.Roles)
	if err != nil {
		return Customer{}, Token{}, fmt.Errorf("sign in: %w", err)
	}
	return c, Token{Value: tok, ExpiresIn: ttl}, nil
}

// EnsureAdmin creates an admin account with email and password unless an account with that
// email exists, which it leaves exactly as it is (it never grants admin to an existing account:
// whoever registered the address first would otherwise become an admin). It reports whether it
// created the account, and the existing or new account.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (Customer, bool, error) {
	c, err := s.store.GetByEmail(ctx, NormalizeEmail(email))
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Customer{}, false, fmt.Errorf("bootstrap admin: %w", err)
	}
	c, err = s.Create(ctx, NewCustomer{
		Email: email, Password: password, DisplayName: "Administrator",
		Roles: []string{RoleCustomer, RoleAdmin},
	})
	if errors.Is(err, ErrEmailTaken) { // another replica created it first
		c, err = s.store.GetByEmail(ctx, NormalizeEmail(email))
		return c, false, err
	}
	return c, err == nil, err
}
