package customer_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/customers/internal/customer"
)

// memStore is an in-memory customer.Store with the real store's email uniqueness.
type memStore struct {
	mu   sync.Mutex
	byID map[uuid.UUID]customer.Customer
}

func (m *memStore) Create(_ context.Context, c customer.Customer) (customer.Customer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.byID {
		if o.Email == c.Email {
			return customer.Customer{}, customer.ErrEmailTaken
		}
	}
	m.byID[c.ID] = c
	return c, nil
}

func (m *memStore) Get(_ context.Context, id uuid.UUID) (customer.Customer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.byID[id]
	if !ok {
		return customer.Customer{}, customer.ErrNotFound
	}
	return c, nil
}

func (m *memStore) GetByEmail(_ context.Context, email string) (customer.Customer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.byID {
		if c.Email == email {
			return c, nil
		}
	}
	return customer.Customer{}, customer.ErrNotFound
}

func (m *memStore) Update(ctx context.Context, id uuid.UUID, ch customer.Changes) (customer.Customer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.byID[id]
	if !ok {
		return customer.Customer{}, customer.ErrNotFound
	}
	if ch.Status != nil {
		c.Status = *ch.Status
	}
	m.byID[id] = c
	return c, nil
}

// plainHasher "hashes" by prefixing, and counts hashes and verifications.
type plainHasher struct {
	hashes, verifies atomic.Int64
	lastVerified     atomic.Value // string: the encoded hash of the last Verify
}

func (h *plainHasher) Hash(_ context.Context, p string) (string, error) {
	h.hashes.Add(1)
	return "h:" + p, nil
}
func (h *plainHasher) Verify(_ context.Context, p, enc string) (bool, error) {
	h.verifies.Add(1)
	h.lastVerified.Store(enc)
	return enc == "h:"+p, nil
}
func (h *plainHasher) Dummy() string { return "h-dummy" } // matches no password

type fakeIssuer struct{}

func (fakeIssuer) Issue(sub string, roles []string) (string, time.Duration, error) {
	return "token-for-" + sub, 15 * time.Minute, nil
}

func newService(t *testing.T) (*customer.Service, *memStore, *plainHasher) {
	t.Helper()
	st, h := &memStore{byID: map[uuid.UUID]customer.Customer{}}, &plainHasher{}
	svc, err := customer.NewService(t.Context(), st, h, fakeIssuer{})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.hashes.Load(); n != 0 {
		t.Fatalf("NewService hashed %d passwords: start-up must not hash (the dummy comes from Hasher.Dummy)", n)
	}
	return svc, st, h
}

func TestCreateNormalisesEmailAndDefaultsRoleAndStatus(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	c, err := svc.Create(t.Context(), customer.NewCustomer{Email: "Ada@Example.COM", Password: "password1", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Email != "ada@example.com" || !slices.Equal(c.Roles, []string{"customer"}) || c.Status != customer.StatusActive || c.PasswordHash != "h:password1" {
		t.Errorf("created %+v", c)
	}
	_, err = svc.Create(t.Context(), customer.NewCustomer{Email: "ADA@example.com", Password: "password2", DisplayName: "Other"})
	if !errors.Is(err, customer.ErrEmailTaken) {
		t.Errorf("same email in another case: %v, want ErrEmailTaken", err)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	svc, st, h := newService(t)
	ctx := t.Context()
	active, _ := svc.Create(ctx, customer.NewCustomer{Email: "ada@example.com", Password: "password1"})
	inactive, _ := svc.Create(ctx, customer.NewCustomer{Email: "bob@example.com", Password: "password1"})
	off := customer.StatusInactive
	if _, err := st.Update(ctx, inactive.ID, customer.Changes{Status: &off}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, password string
		want                  error
		verified              string // the hash checked
	}{
		{"right credentials, any case", "ADA@example.com", "password1", nil, "h:password1"},
		{"wrong password", "ada@example.com", "password2", customer.ErrBadCredentials, "h:password1"},
		{"unknown email", "eve@example.com", "password1", customer.ErrBadCredentials, "h-dummy"},
		{"inactive, wrong password", "bob@example.com", "password2", customer.ErrBadCredentials, "h:password1"},
		{"inactive, right password", "bob@example.com", "password1", customer.ErrInactive, "h:password1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.verifies.Load()
			c, tok, err := svc.SignIn(ctx, tt.email, tt.password)
			if !errors.Is(err, tt.want) {
				t.Fatalf("SignIn: %v, want %v", err, tt.want)
			}
			if n := h.verifies.Load() - before; n != 1 {
				t.Errorf("%d password verifications, want exactly 1 whatever the outcome (equal timing)", n)
			}
			if got := h.lastVerified.Load(); got != tt.verified {
				t.Errorf("verified against %q, want %q (an unknown email is checked against Hasher.Dummy)", got, tt.verified)
			}
			if tt.want == nil && (c.ID != active.ID || tok.Value != "token-for-"+active.ID.String() || tok.ExpiresIn != 15*time.Minute) {
				t.Errorf("signed in as %s with %+v", c.ID, tok)
			}
		})
	}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	ctx := t.Context()
	admin, created, err := svc.EnsureAdmin(ctx, "Root@Example.com", "rootpass1")
	if err != nil || !created || !admin.IsAdmin() || !slices.Contains(admin.Roles, customer.RoleCustomer) {
		t.Fatalf("first EnsureAdmin: %+v created=%v err=%v", admin, created, err)
	}
	again, created, err := svc.EnsureAdmin(ctx, "root@example.com", "another-password")
	if err != nil || created || again.ID != admin.ID || again.PasswordHash != "h:rootpass1" {
		t.Errorf("second EnsureAdmin must leave the account alone: %+v created=%v err=%v", again, created, err)
	}
	squatter, _ := svc.Create(ctx, customer.NewCustomer{Email: "boss@example.com", Password: "password1"})
	got, created, err := svc.EnsureAdmin(ctx, "boss@example.com", "rootpass1")
	if err != nil || created || got.ID != squatter.ID || got.IsAdmin() {
		t.Errorf("an existing account must never be made admin: %+v created=%v err=%v", got, created, err)
	}
}
