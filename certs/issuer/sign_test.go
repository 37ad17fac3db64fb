package issuer_test

import (
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"mercato.dev/certs/issuer"
)

func TestSignFollowsTheX509SVIDProfile(t *testing.T) {
	t.Parallel()
	iss, err := issuer.New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	id := spiffeid.RequireFromPath(td, "/svc/orders")
	key := newKey(t)
	now := time.Now()
	chain, err := iss.Sign(id, &key.PublicKey, now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	svid, err := x509svid.ParseRaw(chain[0].Raw, marshalKey(t, key))
	if err != nil {
		t.Fatalf("go-spiffe refuses the SVID: %v", err)
	}
	gotID, _, err := x509svid.Verify(svid.Certificates, iss.Bundle())
	if err != nil || gotID != id {
		t.Fatalf("Verify = %s, %v; want %s", gotID, err, id)
	}
	checkLeafProfile(t, chain[0])
	checkRootProfile(t, iss.Bundle().X509Authorities())
}

func checkLeafProfile(t *testing.T, leaf *x509.Certificate) {
	t.Helper()
	wantUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement
	switch {
	case leaf.IsCA || !leaf.BasicConstraintsValid:
		t.Error("leaf must carry basic constraints with CA false")
	case leaf.KeyUsage != wantUsage:
		t.Errorf("key usage = %b, want %b", leaf.KeyUsage, wantUsage)
	case !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}):
		t.Errorf("extended key usage = %v, want serverAuth, clientAuth", leaf.ExtKeyUsage)
	case len(leaf.URIs) != 1 || len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0:
		t.Errorf("SANs: URIs %v DNS %v IP %v email %v; want exactly one URI", leaf.URIs, leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
	case leaf.PublicKeyAlgorithm != x509.ECDSA:
		t.Errorf("key algorithm = %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
}

func checkRootProfile(t *testing.T, roots []*x509.Certificate) {
	t.Helper()
	if len(roots) != 1 {
		t.Fatalf("bundle holds %d roots, want 1", len(roots))
	}
	root := roots[0]
	if !root.IsCA || root.KeyUsage&x509.KeyUsageCertSign == 0 || len(root.URIs) != 1 || root.URIs[0].String() != td.IDString() {
		t.Errorf("root: CA %v, key usage %b, URIs %v; want a CA with certSign and URI %s", root.IsCA, root.KeyUsage, root.URIs, td.IDString())
	}
	if got := root.NotAfter.Sub(root.NotBefore); got != issuer.DefaultCATTL {
		t.Errorf("root lifetime = %s, want the default %s", got, issuer.DefaultCATTL)
	}
}

func TestSignValidityWindow(t *testing.T) {
	t.Parallel()
	iss, err := issuer.New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	root := iss.Bundle().X509Authorities()[0]
	key := newKey(t)
	now := time.Now()
	tests := []struct {
		name          string
		id            spiffeid.ID
		from, to      time.Time
		wantErr       bool
		wantNotAfter  time.Time // zero: to
		wantVerifyErr bool
	}{
		{"already expired", spiffeid.RequireFromPath(td, "/old"), now.Add(-2 * time.Hour), now.Add(-time.Hour), false, time.Time{}, true},
		{"capped at the CA's expiry", spiffeid.RequireFromPath(td, "/long"), now, now.Add(365 * 24 * time.Hour), false, root.NotAfter, false},
		{"ends before it starts", spiffeid.RequireFromPath(td, "/backwards"), now, now.Add(-time.Second), true, time.Time{}, false},
		{"other trust domain", spiffeid.RequireFromString("spiffe://other.test/a"), now, now.Add(time.Hour), true, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chain, err := iss.Sign(tt.id, &key.PublicKey, tt.from, tt.to)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Sign succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantNotAfter
			if want.IsZero() {
				want = tt.to
			}
			if got := chain[0].NotAfter; got.Unix() != want.Unix() {
				t.Errorf("NotAfter = %s, want %s", got, want)
			}
			if _, _, err := x509svid.Verify(chain, iss.Bundle()); (err != nil) != tt.wantVerifyErr {
				t.Errorf("Verify: %v, want error %v", err, tt.wantVerifyErr)
			}
		})
	}
}

func marshalKey(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
