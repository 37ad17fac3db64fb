// Package token issues the platform's end-user access tokens (ES256 JWTs with a kid) and
// publishes the keys that verify them as a JWKS. Keys live in the customers database, so every
// replica and every restart signs with the same ones.
//
// Rotation, without a token the edge cannot verify: a new key is published in the JWKS first and
// signs only once it has been published for PublishDelay (longer than the JWKS cache lifetime
// plus the interval at which replicas reload keys). The key it supersedes stays in the JWKS until
// every token it signed has expired, and is then retired (a retired key is no longer listed).
package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Contract values of the JWT (see ARCHITECTURE.md, "The JWT contract").
const (
	Issuer   = "mercato.customers"
	Audience = "mercato"
	TTL      = 15 * time.Minute
)

// KeyStore keeps signing keys.
type KeyStore interface {
	Keys(ctx context.Context) ([]StoredKey, error)
	AddKey(ctx context.Context, k StoredKey) error
	RetireKey(ctx context.Context, kid string) error
}

// Options tune a Keyring; zero values take the defaults in brackets.
type Options struct {
	RotateAfter  time.Duration // a signing key older than this is replaced; 0 never [never]
	PublishDelay time.Duration // how long a new key is published before it signs [10m]
	Leeway       time.Duration // clock skew allowed before retiring a superseded key [1m]
	Now          func() time.Time
}

func (o *Options) setDefaults() {
	if o.PublishDelay == 0 {
		o.PublishDelay = 10 * time.Minute
	}
	if o.Leeway == 0 {
		o.Leeway = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Keyring holds the current keys in memory, signs with the right one and lists the published
// ones. It is safe for concurrent use.
type Keyring struct {
	store KeyStore
	opts  Options

	mu   sync.RWMutex
	keys []key // unretired, oldest first
}

// New returns an empty keyring over store; call Init before use.
func New(store KeyStore, opts Options) *Keyring {
	opts.setDefaults()
	return &Keyring{store: store, opts: opts}
}

// Init loads the stored keys, creating the first one when there is none.
func (k *Keyring) Init(ctx context.Context) error {
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	if k.count() > 0 {
		return nil
	}
	if _, err := k.Rotate(ctx); err != nil {
		return err
	}
	return nil
}

// Refresh reloads the unretired keys from the store (other replicas may have added some).
func (k *Keyring) Refresh(ctx context.Context) error {
	stored, err := k.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	var keys []key
	for _, s := range stored {
		if s.Retired {
			continue
		}
		parsed, err := parseKey(s)
		if err != nil {
			return err
		}
		keys = append(keys, parsed)
	}
	slices.SortFunc(keys, func(a, b key) int { return a.CreateTime.Compare(b.CreateTime) })
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

// Rotate adds a new key. It is published at once and signs after PublishDelay.
func (k *Keyring) Rotate(ctx context.Context) (string, error) {
	nk, err := newKey(k.opts.Now().UTC())
	if err != nil {
		return "", err
	}
	if err := k.store.AddKey(ctx, nk.StoredKey); err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	return nk.Kid, k.Refresh(ctx)
}

// Maintain reloads the keys, adds one when the signing key is older than RotateAfter, and
// retires superseded keys whose tokens have all expired. A replica calls it periodically.
func (k *Keyring) Maintain(ctx context.Context) error {
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	now := k.opts.Now()
	k.mu.RLock()
	keys := slices.Clone(k.keys)
	k.mu.RUnlock()
	if len(keys) == 0 {
		return k.Init(ctx)
	}
	newest := keys[len(keys)-1]
	if k.opts.RotateAfter > 0 && now.Sub(newest.CreateTime) >= k.opts.RotateAfter {
		if _, err := k.Rotate(ctx); err != nil {
			return err
		}
	}
	for _, kid := range k.retirable(keys, now) {
		if err := k.store.RetireKey(ctx, kid); err != nil {
			return fmt.Errorf("retire signing key %s: %w", kid, err)
		}
	}
	return k.Refresh(ctx)
}

// retirable lists keys older than the current signer once the signer has signed long enough
// for every token of theirs to have expired.
func (k *Keyring) retirable(keys []key, now time.Time) []string {
	i := k.signerIndex(keys, now)
	if i <= 0 {
		return nil
	}
	signingSince := keys[i].CreateTime.Add(k.opts.PublishDelay)
	if now.Before(signingSince.Add(TTL + k.opts.Leeway)) {
		return nil
	}
	var kids []string
	for _, old := range keys[:i] {
		kids = append(kids, old.Kid)
	}
	return kids
}

// signerIndex is the newest key published for at least PublishDelay, or the oldest key when
// none has been (a fresh install, whose only key must sign at once).
func (k *Keyring) signerIndex(keys []key, now time.Time) int {
	if len(keys) == 0 {
		return -1
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if !now.Before(keys[i].CreateTime.Add(k.opts.PublishDelay)) {
			return i
		}
	}
	return 0
}

func (k *Keyring) count() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}

// SigningKid is the kid the next token will carry.
func (k *Keyring) SigningKid() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if i := k.signerIndex(k.keys, k.opts.Now()); i >= 0 {
		return k.keys[i].Kid
	}
	return ""
}

// JWKS lists the public keys of every unretired key.
func (k *Keyring) JWKS() JWKS {
	k.mu.RLock()
	defer k.mu.RUnlock()
	set := JWKS{Keys: make([]JWK, 0, len(k.keys))}
	for _, key := range k.keys {
		set.Keys = append(set.Keys, key.jwk())
	}
	return set
}

// header and claims of the JWT contract.
type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

type claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"`
	Roles    []string `json:"roles"`
	IssuedAt int64    `json:"iat"`
	Expires  int64    `json:"exp"`
}

// Issue signs a token for subject with roles, valid for TTL.
func (k *Keyring) Issue(subject string, roles []string) (string, time.Duration, error) {
	now := k.opts.Now()
	k.mu.RLock()
	i := k.signerIndex(k.keys, now)
	var signer key
	if i >= 0 {
		signer = k.keys[i]
	}
	k.mu.RUnlock()
	if i < 0 {
		return "", 0, errNoKey
	}
	h, _ := json.Marshal(header{Alg: "ES256", Typ: "JWT", Kid: signer.Kid})
	c, _ := json.Marshal(claims{
		Issuer: Issuer, Subject: subject, Audience: Audience, Roles: roles,
		IssuedAt: now.Unix(), Expires: now.Add(TTL).Unix(),
	})
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sig, err := signer.sign(input)
	if err != nil {
		return "", 0, err
	}
	return input + "." + sig, TTL, nil
}

// Run calls Maintain every interval until ctx ends. A failed pass is logged and retried at the
// next tick: a database blip must not stop the process.
func (k *Keyring) Run(ctx context.Context, interval time.Duration, logger *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := k.Maintain(ctx); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "signing key maintenance failed", "error", err.Error())
			}
		}
	}
}
