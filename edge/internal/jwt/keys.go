package jwt

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Fetcher gets a JWKS document (remote_jwks.http_uri) through the named upstream cluster.
type Fetcher interface {
	Fetch(ctx context.Context, cluster, uri string) ([]byte, error)
}

// Keys caches remote JWKS documents for their cache_duration. It outlives configuration
// versions, so a new listener version does not refetch keys it already holds. Concurrent
// requests needing the same expired document wait for one fetch.
type Keys struct {
	fetch Fetcher
	now   func() time.Time

	mu      sync.Mutex
	entries map[remoteKey]*cached
}

type remoteKey struct {
	cluster, uri string
	ttl          time.Duration
}

type cached struct {
	set      *jose.JSONWebKeySet
	expires  time.Time
	inflight chan struct{} // closed when the running fetch ends
}

// NewKeys returns an empty cache fetching through f.
func NewKeys(f Fetcher) *Keys {
	return &Keys{fetch: f, now: time.Now, entries: map[remoteKey]*cached{}}
}

type keySource interface {
	keys(ctx context.Context) (*jose.JSONWebKeySet, error)
}

type localKeys struct{ set *jose.JSONWebKeySet }

func (l localKeys) keys(context.Context) (*jose.JSONWebKeySet, error) { return l.set, nil }

type remoteKeys struct {
	cache   *Keys
	key     remoteKey
	timeout time.Duration
}

func (r remoteKeys) keys(ctx context.Context) (*jose.JSONWebKeySet, error) {
	return r.cache.get(ctx, r.key, r.timeout)
}

func (k *Keys) get(ctx context.Context, key remoteKey, timeout time.Duration) (*jose.JSONWebKeySet, error) {
	for {
		k.mu.Lock()
		e := k.entries[key]
		if e == nil {
			e = &cached{}
			k.entries[key] = e
		}
		if e.set != nil && k.now().Before(e.expires) {
			k.mu.Unlock()
			return e.set, nil
		}
		if wait := e.inflight; wait != nil {
			k.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e.inflight = make(chan struct{})
		k.mu.Unlock()
		return k.refresh(ctx, key, e, timeout)
	}
}

// refresh fetches the document once; a failure is not cached (the next request tries again).
func (k *Keys) refresh(ctx context.Context, key remoteKey, e *cached, timeout time.Duration) (*jose.JSONWebKeySet, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	set, err := k.load(fctx, key)
	k.mu.Lock()
	defer k.mu.Unlock()
	close(e.inflight)
	e.inflight = nil
	if err != nil {
		return nil, err
	}
	e.set, e.expires = set, k.now().Add(key.ttl)
	return set, nil
}

func (k *Keys) load(ctx context.Context, key remoteKey) (*jose.JSONWebKeySet, error) {
	body, err := k.fetch.Fetch(ctx, key.cluster, key.uri)
	if err != nil {
		return nil, fmt.Errorf("fetch %s through %s: %w", key.uri, key.cluster, err)
	}
	return parseJWKS(body)
}

func parseJWKS(b []byte) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("JWKS has no keys")
	}
	return &set, nil
}
