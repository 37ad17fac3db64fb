package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// organization names the issuer in the subject of what it signs.
const organization = "Mercato"

// authority is one CA root: its key, when it may start signing, and the
// latest expiry of anything it signed (it stays in the bundle until then).
type authority struct {
	cert        *x509.Certificate
	key         *ecdsa.PrivateKey
	activateAt  time.Time
	signedUntil time.Time
}

// newAuthority creates a self-signed ECDSA P-256 root for the trust domain,
// valid from now for ttl, that signs nothing before activateAt.
func newAuthority(td spiffeid.TrustDomain, now time.Time, ttl time.Duration, activateAt time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{organization},
			CommonName:   "Mercato local SPIFFE CA",
			SerialNumber: serial.Text(16), // tells successive roots apart by name
		},
		URIs:                  []*url.URL{td.ID().URL()},
		NotBefore:             now,
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert, err := createCertificate(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	return &authority{cert: cert, key: key, activateAt: activateAt}, nil
}

// sign issues an X.509-SVID leaf for id and pub, following SPIRE's profile:
// not a CA, digitalSignature + keyEncipherment + keyAgreement, serverAuth +
// clientAuth. notAfter is capped at the CA's own expiry.
func (a *authority) sign(id spiffeid.ID, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("sign %s: validity ends (%s) before it starts (%s)", id, notAfter, notBefore)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{organization}},
		URIs:                  []*url.URL{id.URL()},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	leaf, err := createCertificate(tmpl, a.cert, pub, a.key)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", id, err)
	}
	if leaf.NotAfter.After(a.signedUntil) {
		a.signedUntil = leaf.NotAfter
	}
	return leaf, nil
}

// rotateAt is when the authority should be succeeded: at two thirds of its
// lifetime.
func (a *authority) rotateAt() time.Time {
	life := a.cert.NotAfter.Sub(a.cert.NotBefore)
	return a.cert.NotBefore.Add(life * 2 / 3)
}

func createCertificate(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// randomSerial returns a random positive serial number of at most 128 bits.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit.Sub(limit, big.NewInt(1)))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
