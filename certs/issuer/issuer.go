package issuer

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Issuer is the local SPIFFE issuer: a CA, the registration entries and the
// Workload API + SDS server that hands out what the entries grant.
type Issuer struct {
	cfg      Config
	log      *slog.Logger
	registry *registry
	keys     *keyring
	svids    *svidCache
	hub      *hub

	serving  atomic.Bool
	ready    chan struct{} // closed once the socket listens
	stopping chan struct{} // closed when Serve begins to stop
}

// New validates cfg, loads or creates the CA and registers cfg.Entries.
func New(cfg Config) (*Issuer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("issuer config: %w", err)
	}
	cfg = cfg.withDefaults()
	root, err := resolveRoot(cfg.RootDir)
	if err != nil {
		return nil, err
	}
	store, err := openStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	i := &Issuer{
		cfg: cfg, log: cfg.Logger, registry: newRegistry(cfg.TrustDomain, root), hub: newHub(),
		ready: make(chan struct{}), stopping: make(chan struct{}),
	}
	if i.keys, err = newKeyring(cfg, store, i.hub.broadcast); err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	i.svids = newSVIDCache(cfg.SVIDTTL, i.keys.sign, i.log)
	i.SetEntries(cfg.Entries)
	return i, nil
}

// Ready returns a channel closed once Serve listens on the socket.
func (i *Issuer) Ready() <-chan struct{} { return i.ready }

// SetEntries replaces the registration entries. Open streams re-evaluate
// their caller at once: one that lost every entry ends with
// PermissionDenied, one that lost some stops receiving their SVIDs.
func (i *Issuer) SetEntries(entries []Entry) {
	for _, err := range i.registry.set(entries) {
		i.log.Error("registration entry", "err", err)
	}
	i.svids.retain(i.registry.ids())
	i.log.Info("registration entries set", "count", len(entries))
	i.hub.broadcast()
}

// RotateCA publishes a new CA root in the bundle at once (pushed to every
// stream). It signs only once at least one SVID lifetime has passed, and
// the old root leaves the bundle only after every SVID it signed expired.
func (i *Issuer) RotateCA() error {
	if err := i.keys.rotate(time.Now()); err != nil {
		return fmt.Errorf("rotate CA: %w", err)
	}
	return nil
}

// Bundle returns the current trust bundle.
func (i *Issuer) Bundle() *x509bundle.Bundle {
	roots, _, err := i.keys.bundle()
	if err != nil {
		i.log.Error("CA state", "err", err)
	}
	return x509bundle.FromX509Authorities(i.cfg.TrustDomain, roots)
}

// Sign mints an SVID for tests and tools (e.g. an already-expired one):
// signed by the active CA, notAfter capped at the CA's expiry. The old root
// stays in the bundle until what Sign issued has expired too.
func (i *Issuer) Sign(id spiffeid.ID, pub crypto.PublicKey, notBefore, notAfter time.Time) ([]*x509.Certificate, error) {
	if !id.MemberOf(i.cfg.TrustDomain) {
		return nil, fmt.Errorf("sign: %s is not in trust domain %s", id, i.cfg.TrustDomain)
	}
	leaf, err := i.keys.sign(id, pub, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	i.log.Info("signed X.509-SVID on request", "spiffe_id", id.String(), "serial", serialHex(leaf), "expires", leaf.NotAfter)
	return []*x509.Certificate{leaf}, nil
}

// resolveRoot makes the root dir absolute with symbolic links resolved, as
// /proc/<pid>/exe reports executables.
func resolveRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("root dir: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("root dir: %w", err)
	}
	return resolved, nil
}

// openStore picks where the CA lives.
func openStore(dir string) (caStore, error) {
	if dir == "" {
		return memoryStore{}, nil
	}
	return openFileStore(dir)
}
