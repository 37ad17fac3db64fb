package x509pop_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mercato.dev/certs/x509pop"
)

func TestEnsureIssuesKeepsAndRenews(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	if err := x509pop.Ensure(dir, "mercato-compose-agent", now); err != nil {
		t.Fatal(err)
	}
	ca, agent := cert(t, dir, x509pop.CAFile), cert(t, dir, x509pop.AgentFile)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := agent.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("agent certificate does not verify against the CA: %v", err)
	}
	if agent.Subject.CommonName != "mercato-compose-agent" {
		t.Errorf("CN = %q", agent.Subject.CommonName)
	}
	if fi, err := os.Stat(filepath.Join(dir, x509pop.AgentKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("agent key mode: %v %v", fi.Mode(), err)
	}

	// A second run keeps everything.
	if err := x509pop.Ensure(dir, "mercato-compose-agent", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again := cert(t, dir, x509pop.AgentFile); !again.Equal(agent) {
		t.Error("a valid agent certificate was replaced")
	}

	// Close to expiry, the agent certificate is renewed under the same CA.
	later := agent.NotAfter.Add(-x509pop.RenewBefore / 2)
	if err := x509pop.Ensure(dir, "mercato-compose-agent", later); err != nil {
		t.Fatal(err)
	}
	renewed := cert(t, dir, x509pop.AgentFile)
	if renewed.Equal(agent) || !renewed.NotAfter.After(agent.NotAfter) {
		t.Error("agent certificate not renewed near its expiry")
	}
	if !cert(t, dir, x509pop.CAFile).Equal(ca) {
		t.Error("CA replaced while still valid")
	}
}

func cert(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
