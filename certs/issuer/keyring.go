package issuer

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// keyring holds the CA authorities, oldest first, and moves each through its
// phases: published in the bundle, signing from activateAt on, and dropped
// from the bundle once a newer one signs and the last SVID it signed has
// expired. Phases are evaluated against the clock on every use, so no timer
// is needed for correctness; the issuer's refresh loop only makes the bundle
// change visible to open streams in time.
type keyring struct {
	td       spiffeid.TrustDomain
	svidTTL  time.Duration
	caTTL    time.Duration
	store    caStore
	log      *slog.Logger
	onChange func() // called, outside the lock, after the bundle changed

	mu         sync.Mutex
	auths      []*authority
	generation uint64     // bumped on every bundle change
	signer     *authority // the signing authority last seen, to log activations
}

// newKeyring loads the stored authorities and brings them up to date,
// creating the first CA when there is none.
func newKeyring(cfg Config, store caStore, onChange func()) (*keyring, error) {
	auths, err := store.load()
	if err != nil {
		return nil, err
	}
	k := &keyring{
		td: cfg.TrustDomain, svidTTL: cfg.SVIDTTL, caTTL: cfg.CATTL,
		store: store, log: cfg.Logger, onChange: onChange, auths: auths,
	}
	if _, err := k.advance(time.Now()); err != nil {
		return nil, err
	}
	return k, nil
}

// activationDelay is how long a new root is published before it signs: one
// SVID lifetime, so every workload holds it before meeting an SVID it
// signed, plus a tenth for the bundle to reach every stream.
func (k *keyring) activationDelay() time.Duration { return k.svidTTL + k.svidTTL/10 }

// rotate publishes a new root now; it signs after activationDelay.
func (k *keyring) rotate(now time.Time) error {
	k.mu.Lock()
	err := k.addLocked(now, now.Add(k.activationDelay()))
	if err == nil {
		err = k.bundleChangedLocked()
	}
	k.mu.Unlock()
	k.onChange()
	return err
}

// advance moves the phases on to now and reports whether the bundle changed.
func (k *keyring) advance(now time.Time) (bool, error) {
	k.mu.Lock()
	changed, err := k.advanceLocked(now)
	k.mu.Unlock()
	if changed {
		k.onChange()
	}
	return changed, err
}

// sign issues a leaf with the signing authority.
func (k *keyring) sign(id spiffeid.ID, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	now := time.Now()
	k.mu.Lock()
	changed, err := k.advanceLocked(now)
	var leaf *x509.Certificate
	if err == nil {
		leaf, err = k.signLocked(now, id, pub, notBefore, notAfter)
	}
	k.mu.Unlock()
	if changed {
		k.onChange()
	}
	return leaf, err
}

// bundle returns the published roots and the bundle generation.
func (k *keyring) bundle() ([]*x509.Certificate, uint64, error) {
	_, err := k.advance(time.Now())
	k.mu.Lock()
	defer k.mu.Unlock()
	roots := make([]*x509.Certificate, 0, len(k.auths))
	for _, a := range k.auths {
		roots = append(roots, a.cert)
	}
	return roots, k.generation, err
}

func (k *keyring) signLocked(now time.Time, id spiffeid.ID, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	a := k.activeLocked(now)
	if a == nil {
		return nil, errors.New("no CA can sign")
	}
	before := a.signedUntil
	leaf, err := a.sign(id, pub, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	if a.signedUntil.After(before) {
		if err := k.store.save(k.auths); err != nil {
			return nil, fmt.Errorf("record CA use: %w", err)
		}
	}
	return leaf, nil
}

// advanceLocked makes sure an authority can sign, drops retired ones and
// rotates at two thirds of the signing authority's life.
func (k *keyring) advanceLocked(now time.Time) (bool, error) {
	var errs []error
	changed := false
	if k.activeLocked(now) == nil {
		if len(k.auths) > 0 {
			k.log.Warn("every CA root has expired: creating one that signs at once; workloads trust it once they fetch the new bundle")
		}
		errs = append(errs, k.addLocked(now, now))
		changed = true
	}
	if k.retireLocked(now) {
		changed = true
	}
	if a := k.activeLocked(now); a != nil && !now.Before(a.rotateAt()) && !k.hasPendingLocked(now) {
		k.log.Info("CA passed two thirds of its lifetime: rotating", "serial", serialHex(a.cert), "expires", a.cert.NotAfter)
		errs = append(errs, k.addLocked(now, now.Add(k.activationDelay())))
		changed = true
	}
	k.noteSignerLocked(now)
	if changed {
		errs = append(errs, k.bundleChangedLocked())
	}
	return changed, errors.Join(errs...)
}

// activeLocked returns the newest authority allowed to sign now, or nil.
func (k *keyring) activeLocked(now time.Time) *authority {
	for _, a := range slices.Backward(k.auths) {
		if !now.Before(a.activateAt) && now.Before(a.cert.NotAfter) {
			return a
		}
	}
	return nil
}

func (k *keyring) hasPendingLocked(now time.Time) bool {
	return slices.ContainsFunc(k.auths, func(a *authority) bool { return now.Before(a.activateAt) })
}

// retireLocked drops every authority older than the signing one whose last
// SVID has expired, and reports whether it dropped any.
func (k *keyring) retireLocked(now time.Time) bool {
	active := k.activeLocked(now)
	if active == nil {
		return false
	}
	idx := slices.Index(k.auths, active)
	kept := slices.DeleteFunc(slices.Clone(k.auths[:idx]), func(a *authority) bool {
		if now.After(a.signedUntil) {
			k.log.Info("CA root retired: every SVID it signed has expired",
				"serial", serialHex(a.cert), "last_svid_expiry", a.signedUntil)
			return true
		}
		return false
	})
	if len(kept) == idx {
		return false
	}
	k.auths = append(kept, k.auths[idx:]...)
	return true
}

// addLocked appends a new root that signs from activateAt on.
func (k *keyring) addLocked(now, activateAt time.Time) error {
	a, err := newAuthority(k.td, now, k.caTTL, activateAt)
	if err != nil {
		return err
	}
	k.auths = append(k.auths, a)
	k.log.Info("CA root published", "serial", serialHex(a.cert), "signs_from", activateAt, "expires", a.cert.NotAfter)
	return nil
}

func (k *keyring) noteSignerLocked(now time.Time) {
	if a := k.activeLocked(now); a != nil && a != k.signer {
		k.signer = a
		k.log.Info("CA root now signing", "serial", serialHex(a.cert), "expires", a.cert.NotAfter)
	}
}

// bundleChangedLocked bumps the generation and persists the authorities.
func (k *keyring) bundleChangedLocked() error {
	k.generation++
	if err := k.store.save(k.auths); err != nil {
		return fmt.Errorf("save CA state: %w", err)
	}
	return nil
}

func serialHex(c *x509.Certificate) string { return c.SerialNumber.Text(16) }
