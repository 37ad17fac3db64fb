package token_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mercato.dev/services/customers/internal/token"
	"mercato.dev/services/customers/tokenverify"
)

// memStore is an in-memory KeyStore.
type memStore struct {
	mu   sync.Mutex
	keys []token.StoredKey
}

func (m *memStore) Keys(context.Context) ([]token.StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.keys), nil
}

func (m *memStore) AddKey(_ context.Context, k token.StoredKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, k)
	return nil
}

func (m *memStore) RetireKey(_ context.Context, kid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].Kid == kid {
			m.keys[i].Retired = true
		}
	}
	return nil
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newKeyring(t *testing.T, st token.KeyStore, c *clock, opts token.Options) *token.Keyring {
	t.Helper()
	opts.Now = c.Now
	k := token.New(st, opts)
	if err := k.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return k
}

func jwks(t *testing.T, k *token.Keyring) []byte {
	t.Helper()
	b, err := json.Marshal(k.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func issue(t *testing.T, k *token.Keyring, sub string, roles ...string) string {
	t.Helper()
	tok, ttl, err := k.Issue(sub, roles)
	if err != nil {
		t.Fatal(err)
	}
	if ttl != 15*time.Minute {
		t.Errorf("ttl %s, want 15m", ttl)
	}
	return tok
}

func TestIssuedTokenFollowsTheContractAndVerifiesWithGoJose(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Now().Truncate(time.Second)}
	k := newKeyring(t, &memStore{}, c, token.Options{})
	tok := issue(t, k, "0b7e7f5e-3f3c-4e43-9a43-5d1c2a0f9e11", "customer", "admin")

	got, err := tokenverify.Verify(jwks(t, k), tok, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "0b7e7f5e-3f3c-4e43-9a43-5d1c2a0f9e11" || !slices.Equal(got.Roles, []string{"customer", "admin"}) ||
		got.Issuer != "mercato.customers" || !slices.Equal(got.Audience, []string{"mercato"}) ||
		!got.IssuedAt.Equal(c.Now()) || got.Expiry.Sub(got.IssuedAt) != 15*time.Minute || got.Kid != k.SigningKid() {
		t.Errorf("claims %+v", got)
	}
	var h map[string]string
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err := json.Unmarshal(raw, &h); err != nil || h["alg"] != "ES256" || h["kid"] != k.SigningKid() {
		t.Errorf("header %s", raw)
	}
}

func TestJWKSIsRFC7517EC(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, &memStore{}, &clock{t: time.Now()}, token.Options{})
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks(t, k), &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", jwks(t, k), err)
	}
	key := doc.Keys[0]
	for field, want := range map[string]string{"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": k.SigningKid()} {
		if key[field] != want {
			t.Errorf("%s = %q, want %q", field, key[field], want)
		}
	}
	for _, coord := range []string{"x", "y"} {
		if b, err := base64.RawURLEncoding.DecodeString(key[coord]); err != nil || len(b) != 32 {
			t.Errorf("%s = %q: want 32 bytes of unpadded base64url (%v)", coord, key[coord], err)
		}
	}
	if _, ok := key["d"]; ok {
		t.Error("JWKS leaks the private key")
	}
}

func TestTokensThatMustNotVerify(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Now().Truncate(time.Second)}
	k := newKeyring(t, &memStore{}, c, token.Options{})
	other := newKeyring(t, &memStore{}, c, token.Options{})
	tok := issue(t, k, "sub", "customer")
	parts := strings.Split(tok, ".")
	forged, _ := json.Marshal(map[string]any{"iss": "mercato.customers", "aud": "mercato", "sub": "sub", "roles": []string{"admin"},
		"iat": c.Now().Unix(), "exp": c.Now().Add(time.Hour).Unix()})
	tests := map[string]struct {
		jwks  []byte
		token string
		at    time.Time
	}{
		"expired":                {jwks(t, k), tok, c.Now().Add(15*time.Minute + time.Second)},
		"payload changed":        {jwks(t, k), parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2], c.Now()},
		"another service's keys": {jwks(t, other), tok, c.Now()},
	}
	for name, tt := range tests {
		if _, err := tokenverify.Verify(tt.jwks, tt.token, tt.at); err == nil {
			t.Errorf("%s: token verified", name)
		}
	}
}

func TestKeysArePersistedAndReused(t *testing.T) {
	t.Parallel()
	st, c := &memStore{}, &clock{t: time.Now()}
	first := newKeyring(t, st, c, token.Options{})
	second := newKeyring(t, st, c, token.Options{}) // a restart or another replica
	if first.SigningKid() == "" || first.SigningKid() != second.SigningKid() {
		t.Errorf("kids %q and %q: a second keyring on the same store must reuse the key", first.SigningKid(), second.SigningKid())
	}
	if n := len(st.keys); n != 1 {
		t.Errorf("%d keys stored, want 1", n)
	}
}

func TestRotationPublishesBeforeSigningAndRetiresAfterExpiry(t *testing.T) {
	t.Parallel()
	st, c := &memStore{}, &clock{t: time.Now().Truncate(time.Second)}
	opts := token.Options{PublishDelay: 10 * time.Minute, Leeway: time.Minute}
	k := newKeyring(t, st, c, opts)
	peer := newKeyring(t, st, c, opts) // another replica, learning keys through the store
	oldKid := k.SigningKid()
	oldTok := issue(t, k, "sub", "customer")

	newKid, err := k.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*token.Keyring{k, peer} {
		if got := kids(r); !slices.Equal(got, []string{oldKid, newKid}) {
			t.Errorf("JWKS right after rotation %v, want both keys", got)
		}
		if r.SigningKid() != oldKid {
			t.Error("the new key signs before it has been published for PublishDelay")
		}
	}

	c.Advance(10 * time.Minute)
	if k.SigningKid() != newKid || peer.SigningKid() != newKid {
		t.Errorf("after PublishDelay signing kid %q/%q, want the new %q", k.SigningKid(), peer.SigningKid(), newKid)
	}
	newTok := issue(t, peer, "sub", "customer")
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := tokenverify.Verify(jwks(t, k), tok, c.Now()); err != nil {
			t.Errorf("%s token during rotation: %v", name, err)
		}
	}

	c.Advance(15*time.Minute + 30*time.Second) // old tokens expired, inside the leeway
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := kids(k); len(got) != 2 {
		t.Errorf("old key retired inside the leeway: JWKS %v", got)
	}
	c.Advance(time.Minute)
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := peer.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*token.Keyring{k, peer} {
		if got := kids(r); !slices.Equal(got, []string{newKid}) {
			t.Errorf("JWKS after every old token expired %v, want only %s", got, newKid)
		}
	}
}

func TestMaintainRotatesAnOldKey(t *testing.T) {
	t.Parallel()
	st, c := &memStore{}, &clock{t: time.Now()}
	k := newKeyring(t, st, c, token.Options{RotateAfter: 24 * time.Hour})
	first := k.SigningKid()
	c.Advance(23 * time.Hour)
	if err := k.Maintain(t.Context()); err != nil || len(kids(k)) != 1 {
		t.Fatalf("rotated too early (%v): %v", err, kids(k))
	}
	c.Advance(time.Hour)
	if err := k.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := kids(k); len(got) != 2 || got[0] != first {
		t.Errorf("after RotateAfter JWKS %v, want the old key and a new one", got)
	}
}

func kids(k *token.Keyring) []string {
	var out []string
	for _, key := range k.JWKS().Keys {
		out = append(out, key.Kid)
	}
	return out
}
