// Package x509pop makes the certificates SPIRE's x509pop node attestor works with: a CA that the
// server trusts (NodeAttestor "x509pop" ca_bundle_path) and, signed by it, a certificate and key
// per agent (certificate_path, private_key_path). An agent proves possession of its key on every
// attestation, so unlike a join token it can attest again after any outage, however long: its
// SVID may have expired, its certificate has not.
//
// Ensure is idempotent: it keeps an existing CA and an agent certificate that is valid for
// longer than RenewBefore, and replaces anything else, so running it again renews.
package x509pop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names under the directory Ensure writes.
const (
	CAFile       = "ca.pem"     // the server's ca_bundle_path
	CAKeyFile    = "ca-key.pem" // stays with the operator: it signs new agent certificates
	AgentFile    = "agent.pem"  // the agent's certificate_path
	AgentKeyFile = "agent-key.pem"
)

// Lifetimes: the CA outlives many agent certificates; an agent certificate is renewed a month
// before it expires.
const (
	CATTL       = 10 * 365 * 24 * time.Hour
	AgentTTL    = 365 * 24 * time.Hour
	RenewBefore = 30 * 24 * time.Hour
)

// Ensure makes sure dir holds a CA and an agent certificate with common name agentCN (the
// x509pop:subject:cn selector the node entry matches), valid for at least RenewBefore.
func Ensure(dir, agentCN string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("x509pop: %w", err)
	}
	ca, caKey, err := loadPair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	if err != nil || now.Add(AgentTTL).After(ca.NotAfter) {
		if ca, caKey, err = newCA(dir, now); err != nil {
			return err
		}
	}
	agent, _, err := loadPair(filepath.Join(dir, AgentFile), filepath.Join(dir, AgentKeyFile))
	if err == nil && agent.Subject.CommonName == agentCN && agent.CheckSignatureFrom(ca) == nil &&
		now.Add(RenewBefore).Before(agent.NotAfter) {
		return nil
	}
	return newAgent(dir, agentCN, ca, caKey, now)
}

func newCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Mercato"}, CommonName: "Mercato SPIRE agent CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(CATTL),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return issue(dir, CAFile, CAKeyFile, tmpl, nil, nil)
}

func newAgent(dir, cn string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) error {
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{Organization: []string{"Mercato"}, CommonName: cn},
		NotBefore: now.Add(-time.Minute),
		NotAfter:  now.Add(AgentTTL),
		// x509pop wants a key that can sign its challenge.
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	_, _, err := issue(dir, AgentFile, AgentKeyFile, tmpl, ca, caKey)
	return err
}

// issue makes a key and a certificate from tmpl, signed by parent (self-signed when nil), and
// writes both (the key readable by its owner only).
func issue(dir, certFile, keyFile string, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("x509pop: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("x509pop: serial: %w", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("x509pop: certificate %s: %w", certFile, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("x509pop: key %s: %w", keyFile, err)
	}
	if err := writePEM(filepath.Join(dir, keyFile), "PRIVATE KEY", keyDER, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, certFile), "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writePEM(name, typ string, der []byte, mode os.FileMode) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return fmt.Errorf("x509pop: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("x509pop: %w", err)
	}
	return nil
}

// loadPair reads a certificate and its ECDSA key.
func loadPair(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := readPEM(certFile, "CERTIFICATE")
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return nil, nil, fmt.Errorf("x509pop: %s: %w", certFile, err)
	}
	keyDER, err := readPEM(keyFile, "PRIVATE KEY")
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, nil, fmt.Errorf("x509pop: %s: %w", keyFile, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(c.PublicKey) {
		return nil, nil, fmt.Errorf("x509pop: %s does not hold the key of %s", keyFile, certFile)
	}
	return c, key, nil
}

func readPEM(name, typ string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("x509pop: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != typ {
		return nil, errors.New("x509pop: " + name + ": no " + typ + " PEM block")
	}
	return block.Bytes, nil
}
