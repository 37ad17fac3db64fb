package devedge_test

import (
	"crypto/tls"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mercato.dev/edge/devcert"
)

// TestCertificateFilesAreReloaded: replacing the certificate and key files on disk changes the
// certificate new connections get, with no xDS update and no restart.
func TestCertificateFilesAreReloaded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	copyFile(t, h.files.Cert, cert)
	copyFile(t, h.files.Key, key)
	cfg := h.baseConfig(deadAddr(t))
	cfg.certFile, cfg.keyFile = cert, key
	h.start(cfg)
	before := serial(t, h.edge.ListenerAddr("public"))

	next, err := devcert.Ensure(t.TempDir(), time.Now()) // another CA, another certificate
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, next.Key, key)
	copyFile(t, next.Cert, cert)
	deadline := time.Now().Add(5 * time.Second)
	for serial(t, h.edge.ListenerAddr("public")).Cmp(before) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("certificate not reloaded within 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// And it is the new pair, valid for a client trusting the new CA.
	res, err := clientTrusting(t, next.CA, true).Get(h.base() + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("status %d", res.StatusCode)
	}
}

func serial(t *testing.T, addr string) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the certificate only
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// copyFile replaces dst atomically, as a certificate manager does.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}
