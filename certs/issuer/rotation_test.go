package issuer_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// observation is one X.509 context update and when it arrived.
type observation struct {
	at   time.Time
	svid *x509svid.SVID
	// bundle is the trust domain's bundle that came with svid.
	bundle *x509bundle.Bundle
}

// watchX509 streams the caller's X.509 context updates through go-spiffe's
// client until the test ends.
func watchX509(t *testing.T, sock string) <-chan observation {
	t.Helper()
	updates := make(chan observation, 256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	client := workloadClient(t, sock)
	go func() {
		defer close(done)
		_ = client.WatchX509Context(ctx, watcherFunc(func(c *workloadapi.X509Context) {
			b, _ := c.Bundles.GetX509BundleForTrustDomain(td)
			updates <- observation{at: time.Now(), svid: c.DefaultSVID(), bundle: b}
		}))
	}()
	return updates
}

type watcherFunc func(*workloadapi.X509Context)

func (f watcherFunc) OnX509ContextUpdate(c *workloadapi.X509Context) { f(c) }
func (watcherFunc) OnX509ContextWatchError(error)                    {}

// next returns the next observation, failing after waitLimit.
func next(t *testing.T, updates <-chan observation, waitingFor string) observation {
	t.Helper()
	select {
	case o := <-updates:
		if o.bundle == nil {
			t.Fatal("update without the trust domain's bundle")
		}
		if _, _, err := x509svid.Verify(o.svid.Certificates, o.bundle); err != nil {
			t.Fatalf("an SVID came with a bundle that does not verify it: %v", err)
		}
		return o
	case <-time.After(waitLimit):
		t.Fatalf("no update within %s while waiting for %s", waitLimit, waitingFor)
		return observation{}
	}
}

func TestSVIDsAreRenewedAtHalfLife(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	cfg := testConfig(t, selfEntry(t, "/test/self"))
	cfg.SVIDTTL, cfg.CATTL = ttl, time.Hour
	startIssuer(t, cfg)
	updates := watchX509(t, cfg.SocketPath)

	prev := next(t, updates, "the first SVID")
	for range 3 {
		o := next(t, updates, "a renewed SVID")
		old := prev.svid.Certificates[0]
		lived, left := o.at.Sub(prev.at), old.NotAfter.Sub(o.at)
		t.Logf("SVID replaced after %s with %s left (TTL %s)", lived.Round(time.Millisecond), left.Round(time.Millisecond), ttl)
		// Renewal is due at half the lifetime; allow for the refresh tick
		// and a loaded machine, but not for a renewal near expiry.
		if left < ttl*3/10 {
			t.Errorf("SVID replaced with %s of its %s left; want about half", left, ttl)
		}
		if lived < ttl*4/10 {
			t.Errorf("SVID replaced after %s; want about half its %s", lived, ttl)
		}
		prev = o
	}
}

func TestCARotationPhases(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	entry := selfEntry(t, "/test/self")
	cfg := testConfig(t, entry)
	cfg.SVIDTTL, cfg.CATTL = ttl, time.Hour
	iss := startIssuer(t, cfg)
	updates := watchX509(t, cfg.SocketPath)
	oldRoot := next(t, updates, "the first SVID").bundle.X509Authorities()[0]

	rotatedAt := time.Now()
	if err := iss.RotateCA(); err != nil {
		t.Fatal(err)
	}
	newRoot := otherRoot(t, iss.Bundle().X509Authorities(), oldRoot)
	// Signed by the old root, and outliving every SVID the stream gets from it.
	key := newKey(t)
	long, err := iss.Sign(entry.ID, &key.PublicKey, time.Now(), time.Now().Add(3*ttl))
	if err != nil || long[0].CheckSignatureFrom(oldRoot) != nil {
		t.Fatalf("Sign right after RotateCA: %v; want an SVID signed by the old root", err)
	}
	p := rotationPhases{ttl: ttl, oldRoot: oldRoot, newRoot: newRoot, lastOldExpiry: long[0].NotAfter}
	for p.oldGoneAt.IsZero() {
		p.observe(t, next(t, updates, "the old root to leave the bundle"))
	}
	t.Logf("after RotateCA: new root in bundle %s, first SVID from it %s, old root gone %s (last SVID of the old root expired %s)",
		p.newSeenAt.Sub(rotatedAt), p.newSignedAt.Sub(rotatedAt), p.oldGoneAt.Sub(rotatedAt), p.lastOldExpiry.Sub(rotatedAt))
	if d := p.newSeenAt.Sub(rotatedAt); d > ttl/2 {
		t.Errorf("new root reached the stream %s after RotateCA; want it published at once", d)
	}
}

// rotationPhases checks, update by update, that a CA rotation happens in
// order: the new root is published, it signs only one SVID lifetime later,
// the old root leaves only after its last SVID expired.
type rotationPhases struct {
	ttl                    time.Duration
	oldRoot, newRoot       *x509.Certificate
	lastOldExpiry          time.Time
	newSeenAt, newSignedAt time.Time
	oldGoneAt              time.Time
}

func (p *rotationPhases) observe(t *testing.T, o observation) {
	t.Helper()
	if p.newSeenAt.IsZero() && o.bundle.HasX509Authority(p.newRoot) {
		p.newSeenAt = o.at
	}
	leaf := o.svid.Certificates[0]
	if leaf.CheckSignatureFrom(p.newRoot) == nil {
		if p.newSignedAt.IsZero() {
			p.newSignedAt = o.at
			if p.newSeenAt.IsZero() || o.at.Sub(p.newSeenAt) < p.ttl {
				t.Errorf("first SVID from the new root seen %s after the root reached the bundle; want at least one SVID TTL (%s)", o.at.Sub(p.newSeenAt), p.ttl)
			}
		}
	} else {
		if !p.newSignedAt.IsZero() {
			t.Error("the old root signed again after the new one started")
		}
		if leaf.NotAfter.After(p.lastOldExpiry) {
			p.lastOldExpiry = leaf.NotAfter
		}
	}
	if !o.bundle.HasX509Authority(p.oldRoot) {
		p.oldGoneAt = o.at
		if !o.at.After(p.lastOldExpiry) || p.newSignedAt.IsZero() {
			t.Errorf("old root left the bundle at %s, before the last SVID it signed expired (%s) or before the new root signed", o.at, p.lastOldExpiry)
		}
	}
}

func TestCARotatesAtTwoThirdsOfItsLife(t *testing.T) {
	t.Parallel()
	const ttl, caTTL = time.Second, 6 * time.Second
	cfg := testConfig(t, selfEntry(t, "/test/self"))
	cfg.SVIDTTL, cfg.CATTL = ttl, caTTL
	startIssuer(t, cfg)
	updates := watchX509(t, cfg.SocketPath)
	first := next(t, updates, "the first SVID").bundle.X509Authorities()[0]

	var second *x509.Certificate
	for second == nil {
		if roots := next(t, updates, "a second root").bundle.X509Authorities(); len(roots) == 2 {
			second = otherRoot(t, roots, first)
		}
	}
	published := second.NotBefore.Sub(first.NotBefore)
	t.Logf("second root published %s into the first one's %s", published, caTTL)
	if want := caTTL * 2 / 3; published < want-time.Second || published > want+time.Second {
		t.Errorf("second root published %s into the first one's life, want about %s", published, want)
	}
	for {
		roots := next(t, updates, "the first root to leave").bundle.X509Authorities()
		if len(roots) == 1 && roots[0].Equal(second) {
			break
		}
	}
	if time.Now().After(first.NotAfter.Add(time.Second)) {
		t.Errorf("first root left at %s, after it expired at %s", time.Now(), first.NotAfter)
	}
}

// otherRoot returns the root of roots that is not old, failing unless there
// are exactly two.
func otherRoot(t *testing.T, roots []*x509.Certificate, old *x509.Certificate) *x509.Certificate {
	t.Helper()
	if len(roots) != 2 {
		t.Fatalf("bundle holds %d roots, want 2", len(roots))
	}
	if roots[0].Equal(old) {
		return roots[1]
	}
	if !roots[1].Equal(old) {
		t.Fatal("the old root left the bundle at once")
	}
	return roots[0]
}
