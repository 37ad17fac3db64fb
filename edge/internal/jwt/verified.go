package jwt

import (
	"crypto/sha256"
	"sync"

	"github.com/go-jose/go-jose/v4"
)

// maxVerified bounds the cache of verified signatures: 10,000 tokens (a few hundred KiB).
const maxVerified = 10_000

// verifiedCache remembers the tokens whose ES256 signature checked against a key set, so that
// a client sending the same token again (every call of a signed-in session) costs a hash, not
// an ECDSA verification (the dev edge's largest cost per authenticated request). Only the
// signature is remembered: issuer, times and audiences are checked on every request. An entry
// counts only for the very key set it was verified with, so a JWKS refresh (a key rotated out)
// invalidates it. The key is a SHA-256 of the whole token: no two tokens share an entry.
type verifiedCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*jose.JSONWebKeySet
}

func (c *verifiedCache) has(token string, set *jose.JSONWebKeySet) bool {
	sum := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[sum] == set
}

func (c *verifiedCache) add(token string, set *jose.JSONWebKeySet) {
	sum := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]*jose.JSONWebKeySet)
	}
	if len(c.m) >= maxVerified {
		for k := range c.m { // drop an arbitrary tenth: bounded memory, cheap amortized
			delete(c.m, k)
			if len(c.m) < maxVerified*9/10 {
				break
			}
		}
	}
	c.m[sum] = set
}
