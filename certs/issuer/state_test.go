package issuer_test

import (
	"os"
	"path/filepath"
	"testing"

	"mercato.dev/certs/issuer"
)

func TestStateDirKeepsTheCAAcrossRestarts(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.StateDir = filepath.Join(t.TempDir(), "spiffe", "ca")

	first := newIssuer(t, cfg)
	roots := first.Bundle().X509Authorities()
	checkPerm(t, cfg.StateDir, 0o700)
	checkPerm(t, filepath.Join(cfg.StateDir, "authorities.json"), 0o600)

	second := newIssuer(t, cfg)
	if got := second.Bundle().X509Authorities(); len(got) != 1 || !got[0].Equal(roots[0]) {
		t.Fatalf("after a restart the bundle is %d roots, first equal: %v; want the same single root", len(got), len(got) > 0 && got[0].Equal(roots[0]))
	}
	if err := second.RotateCA(); err != nil {
		t.Fatal(err)
	}
	third := newIssuer(t, cfg)
	got := third.Bundle().X509Authorities()
	if len(got) != 2 || !got[0].Equal(roots[0]) {
		t.Fatalf("after a rotation and a restart the bundle has %d roots; want the old one and the new one", len(got))
	}
	// The old root still signs: the new one was published less than one SVID lifetime ago.
	key := newKey(t)
	chain, err := third.Sign(selfEntry(t, "/x").ID, &key.PublicKey, roots[0].NotBefore, roots[0].NotAfter)
	if err != nil {
		t.Fatal(err)
	}
	if err := chain[0].CheckSignatureFrom(roots[0]); err != nil {
		t.Errorf("SVID not signed by the old root right after a rotation: %v", err)
	}
}

func TestMemoryIssuersDoNotShareACA(t *testing.T) {
	t.Parallel()
	a := newIssuer(t, testConfig(t)).Bundle().X509Authorities()
	b := newIssuer(t, testConfig(t)).Bundle().X509Authorities()
	if a[0].Equal(b[0]) {
		t.Error("two in-memory issuers have the same root")
	}
}

func TestStateDirRejectsCorruptState(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.StateDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "authorities.json"), []byte(`{"authorities":[{"certificate":"junk"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := issuer.New(cfg); err == nil {
		t.Fatal("New accepted a corrupt CA state; it must not silently replace the CA")
	}
}

func newIssuer(t *testing.T, cfg issuer.Config) *issuer.Issuer {
	t.Helper()
	iss, err := issuer.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return iss
}

func checkPerm(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}
