package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// StoredKey is a signing key as the database keeps it.
type StoredKey struct {
	Kid        string
	PrivatePEM string // PKCS#8 PEM of an ECDSA P-256 key
	CreateTime time.Time
	Retired    bool
}

// key is a parsed signing key.
type key struct {
	StoredKey
	private *ecdsa.PrivateKey
}

// newKey generates a P-256 key; its kid is the RFC 7638 thumbprint of its public JWK.
func newKey(now time.Time) (key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return key{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return key{}, fmt.Errorf("encode signing key: %w", err)
	}
	k := key{private: priv, StoredKey: StoredKey{
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		CreateTime: now,
	}}
	k.Kid = thumbprint(k.jwk())
	return k, nil
}

// parseKey parses a stored key.
func parseKey(s StoredKey) (key, error) {
	block, _ := pem.Decode([]byte(s.PrivatePEM))
	if block == nil {
		return key{}, fmt.Errorf("signing key %s: no PEM block", s.Kid)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return key{}, fmt.Errorf("signing key %s: %w", s.Kid, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return key{}, fmt.Errorf("signing key %s: not an ECDSA P-256 key", s.Kid)
	}
	return key{StoredKey: s, private: priv}, nil
}

// JWK is an RFC 7517 public EC key.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is an RFC 7517 key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

func (k key) jwk() JWK {
	pub, err := k.private.PublicKey.ECDH()
	if err != nil {
		panic(err) // unreachable: a parsed or generated P-256 key always converts
	}
	point := pub.Bytes() // 0x04 || X (32 bytes) || Y (32 bytes)
	enc := base64.RawURLEncoding
	return JWK{
		Kty: "EC", Crv: "P-256", Kid: k.Kid, Use: "sig", Alg: "ES256",
		X: enc.EncodeToString(point[1:33]), Y: enc.EncodeToString(point[33:65]),
	}
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 of the required members in lexical order.
func thumbprint(j JWK) string {
	b, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{j.Crv, j.Kty, j.X, j.Y})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sign returns the ES256 signature of signingInput: r || s, 32 bytes each (RFC 7518 §3.4).
func (k key) sign(signingInput string) (string, error) {
	digest := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, k.private, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return base64.RawURLEncoding.EncodeToString(sig), nil
}

var errNoKey = errors.New("token: no signing key")
