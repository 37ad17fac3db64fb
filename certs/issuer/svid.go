package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// backdate is how far before its issue an SVID becomes valid, so that a
// peer whose clock lags a little accepts it (SPIRE does the same).
const backdate = 10 * time.Second

// svid is one issued X.509-SVID with its key.
type svid struct {
	id      spiffeid.ID
	chain   []*x509.Certificate // leaf first
	key     *ecdsa.PrivateKey
	keyDER  []byte    // PKCS #8
	renewAt time.Time // half of its lifetime
}

// signFunc signs a leaf for id and pub, valid from notBefore to notAfter.
type signFunc func(id spiffeid.ID, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error)

// svidCache holds the current SVID of every ID in use, shared by all the
// streams of callers entitled to it; each is replaced at half its lifetime.
type svidCache struct {
	ttl  time.Duration
	sign signFunc
	log  *slog.Logger

	mu   sync.Mutex
	byID map[spiffeid.ID]*svid
}

func newSVIDCache(ttl time.Duration, sign signFunc, log *slog.Logger) *svidCache {
	return &svidCache{ttl: ttl, sign: sign, log: log, byID: make(map[spiffeid.ID]*svid)}
}

// get returns the current SVID for id, minting one when there is none or
// the current one is past half its lifetime.
func (c *svidCache) get(id spiffeid.ID, now time.Time) (*svid, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.byID[id]; ok && now.Before(s.renewAt) {
		return s, nil
	}
	return c.mintLocked(id, now)
}

// dropDue forgets every SVID past half its lifetime and reports whether it
// dropped any. Streams woken by the caller then mint fresh ones through get;
// an SVID no open stream needs any more is not renewed.
func (c *svidCache) dropDue(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	dropped := false
	for id, s := range c.byID {
		if !now.Before(s.renewAt) {
			delete(c.byID, id)
			dropped = true
		}
	}
	return dropped
}

// retain forgets the SVIDs of IDs no longer registered.
func (c *svidCache) retain(ids map[spiffeid.ID]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.byID {
		if !ids[id] {
			delete(c.byID, id)
		}
	}
}

func (c *svidCache) mintLocked(id spiffeid.ID, now time.Time) (*svid, error) {
	s, err := mint(id, now, c.ttl, c.sign)
	if err != nil {
		return nil, err
	}
	c.byID[id] = s
	c.log.Info("issued X.509-SVID", "spiffe_id", id.String(), "serial", serialHex(s.chain[0]), "expires", s.chain[0].NotAfter)
	return s, nil
}

// mint generates a key and has it signed for ttl from now.
func mint(id spiffeid.ID, now time.Time, ttl time.Duration, sign signFunc) (*svid, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key for %s: %w", id, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key for %s: %w", id, err)
	}
	leaf, err := sign(id, &key.PublicKey, now.Add(-backdate), ceilSecond(now.Add(ttl)))
	if err != nil {
		return nil, err
	}
	renewAt := now.Add(leaf.NotAfter.Sub(now) / 2)
	return &svid{id: id, chain: []*x509.Certificate{leaf}, key: key, keyDER: keyDER, renewAt: renewAt}, nil
}

// ceilSecond rounds t up to a whole second: certificates count whole
// seconds, and an SVID should live at least its TTL.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}
