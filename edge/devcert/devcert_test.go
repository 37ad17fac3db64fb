package devcert_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"mercato.dev/edge/devcert"
)

func TestEnsureCreatesAValidPairForLocalhost(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f, err := devcert.Ensure(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, roots := load(t, f)
	for _, h := range devcert.Hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: roots, CurrentTime: now}); err != nil {
			t.Errorf("certificate not valid for %s: %v", h, err)
		}
	}
	for _, key := range []string{f.Key, f.CAKey} {
		st, err := os.Stat(key)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", key, st.Mode().Perm())
		}
	}
}

func TestEnsureReusesWhatIsValid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	f, err := devcert.Ensure(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, f)
	if _, err := devcert.Ensure(dir, now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, f); !bytes.Equal(before, after) {
		t.Error("a second Ensure replaced valid files")
	}
}

func TestEnsureRenewsTheServerCertificateWithTheSameCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	f, err := devcert.Ensure(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(f.CA)
	oldCert, _ := os.ReadFile(f.Cert)
	later := now.Add(380 * 24 * time.Hour) // within a month of the server certificate's end
	if _, err := devcert.Ensure(dir, later); err != nil {
		t.Fatal(err)
	}
	if ca2, _ := os.ReadFile(f.CA); !bytes.Equal(ca, ca2) {
		t.Error("the CA changed: clients would have to trust a new one")
	}
	if cert2, _ := os.ReadFile(f.Cert); bytes.Equal(oldCert, cert2) {
		t.Fatal("the ending server certificate was not renewed")
	}
	leaf, roots := load(t, f)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: roots, CurrentTime: later}); err != nil {
		t.Errorf("renewed certificate: %v", err)
	}
}

func TestEnsureReplacesABrokenKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := devcert.Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Key, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devcert.Ensure(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(f.Cert, f.Key); err != nil {
		t.Errorf("pair after repair: %v", err)
	}
}

func load(t *testing.T, f devcert.Files) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return leaf, roots
}

func snapshot(t *testing.T, f devcert.Files) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{f.CA, f.CAKey, f.Cert, f.Key} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}
