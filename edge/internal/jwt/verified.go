package jwt

import (
	"crypto/sha256"
	"sync"
)

// maxVerified bounds the cache of verified tokens: 10,000 tokens (a few MiB).
const maxVerified = 10_000

// verifiedCache remembers the tokens whose ES256 signature checked against a key set, with
// their decoded header and claims, so that a client sending the same token again (every call of
// a signed-in session) costs a hash, not an ECDSA verification (the dev edge's largest cost per
// authenticated request) and three JSON decodings. Only the signature's outcome is
// remembered: issuer, times and audiences are checked on every request, from the claims
// decoded once. An entry's signature counts only for the very key set it was verified with,
// so a JWKS refresh (a key rotated out) verifies it again. The key is a SHA-256 of the whole
// token: no two tokens share an entry. Only verified tokens enter: a flood of forged ones
// cannot evict them.
type verifiedCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]parsed
}

// get returns token's entry, if its signature verified before.
func (c *verifiedCache) get(token string) (parsed, bool) {
	sum := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	tok, ok := c.m[sum]
	return tok, ok
}

// add remembers tok, whose signature verified against tok.set.
func (c *verifiedCache) add(token string, tok parsed) {
	sum := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]parsed)
	}
	if len(c.m) >= maxVerified {
		for k := range c.m { // drop an arbitrary tenth: bounded memory, cheap amortized
			delete(c.m, k)
			if len(c.m) < maxVerified*9/10 {
				break
			}
		}
	}
	c.m[sum] = tok
}
