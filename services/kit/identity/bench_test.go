package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// BenchmarkHandshake measures the cost of one new connection (TCP connect + TLS 1.3 handshake
// over loopback) with the kit's SPIFFE mTLS configuration, side by side with two baselines:
// server-authenticated TLS with a static certificate, and mTLS with static certificates. The
// ratio spiffe/static-mtls is go-spiffe's verification and source lookups; static-mtls/tls is
// the price of client certificates.
func BenchmarkHandshake(b *testing.B) {
	srvID, cliID := identity.Service("bench-server"), identity.Service("bench-client")
	env := kittest.Start(b, []spiffeid.ID{srvID, cliID})
	serverSrc, clientSrc := env.Source(b, srvID), env.Source(b, cliID)
	static := staticPKI(b)

	cases := []struct {
		name           string
		server, client *tls.Config
	}{
		{"baseline=tls13-static", static.server(false), static.client(false)},
		{"baseline=mtls-static", static.server(true), static.client(true)},
		{"spiffe-mtls", identity.ServerTLS(serverSrc, identity.TrustDomain), identity.ClientTLS(clientSrc, srvID)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			addr := handshakeServer(b, tc.server)
			b.ReportAllocs()
			for b.Loop() {
				conn, err := tls.Dial("tcp", addr, tc.client)
				if err != nil {
					b.Fatal(err)
				}
				// One byte back proves the server finished its side (client cert checked).
				var one [1]byte
				if _, err := conn.Read(one[:]); err != nil {
					b.Fatal(err)
				}
				conn.Close()
			}
		})
	}
}

func handshakeServer(b *testing.B, cfg *tls.Config) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err == nil {
					_, _ = c.Write([]byte{1})
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}

type pki struct {
	pool     *x509.CertPool
	srv, cli tls.Certificate
}

func (p pki) server(mutual bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.srv}, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true}
	if mutual {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, p.pool
	}
	return cfg
}

func (p pki) client(mutual bool) *tls.Config {
	cfg := &tls.Config{RootCAs: p.pool, ServerName: "bench", MinVersion: tls.VersionTLS13}
	if mutual {
		cfg.Certificates = []tls.Certificate{p.cli}
	}
	return cfg
}

// staticPKI is a CA with a server and a client certificate, all ECDSA P-256 like SVIDs.
func staticPKI(b *testing.B) pki {
	caKey := mustKey(b)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		b.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	leaf := func(serial int64, usage x509.ExtKeyUsage) tls.Certificate {
		key := mustKey(b)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), DNSNames: []string{"bench"}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			b.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	return pki{pool: pool, srv: leaf(2, x509.ExtKeyUsageServerAuth), cli: leaf(3, x509.ExtKeyUsageClientAuth)}
}

func mustKey(b *testing.B) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return k
}
