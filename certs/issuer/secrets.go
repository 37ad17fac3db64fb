package issuer

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Secret names Envoy asks for, as a SPIRE agent names them by default.
const (
	defaultSVIDName   = "default" // the caller's default X.509-SVID
	defaultBundleName = "ROOTCA"  // the trust domain's bundle
)

// secretTypeURL is the type of every SDS resource.
var secretTypeURL = "type.googleapis.com/" + string((&tlsv3.Secret{}).ProtoReflect().Descriptor().FullName())

// secretsFor builds the secrets named in names, in that order; no names
// means all of them (the bundle under the trust domain's ID and every SVID
// under its SPIFFE ID). A name the caller may not have is InvalidArgument,
// as with SPIRE.
func secretsFor(v view, td spiffeid.TrustDomain, names []string) ([]*anypb.Any, error) {
	if len(names) == 0 {
		names = allSecretNames(v, td)
	}
	var out []*anypb.Any
	var unknown []string
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		secret := secretNamed(v, td, name)
		if secret == nil {
			unknown = append(unknown, name)
			continue
		}
		a, err := packSecret(secret)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(unknown) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "workload is not authorized for the requested identities %q", unknown)
	}
	return out, nil
}

func allSecretNames(v view, td spiffeid.TrustDomain) []string {
	names := []string{td.IDString()}
	for _, s := range v.svids {
		names = append(names, s.id.String())
	}
	return names
}

// secretNamed returns the secret called name, or nil.
func secretNamed(v view, td spiffeid.TrustDomain, name string) *tlsv3.Secret {
	switch name {
	case defaultSVIDName:
		return tlsCertificateSecret(name, v.svids[0])
	case defaultBundleName, td.IDString():
		return validationContextSecret(name, v.roots)
	}
	for _, s := range v.svids {
		if s.id.String() == name {
			return tlsCertificateSecret(name, s)
		}
	}
	return nil
}

func tlsCertificateSecret(name string, s *svid) *tlsv3.Secret {
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: s.keyDER})
	return &tlsv3.Secret{
		Name: name,
		Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inlineBytes(encodePEM(s.chain)),
			PrivateKey:       inlineBytes(key),
		}},
	}
}

func validationContextSecret(name string, roots []*x509.Certificate) *tlsv3.Secret {
	return &tlsv3.Secret{
		Name: name,
		Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inlineBytes(encodePEM(roots)),
		}},
	}
}

func inlineBytes(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
}

// packSecret checks the secret against Envoy's proto rules and wraps it.
func packSecret(secret *tlsv3.Secret) (*anypb.Any, error) {
	if err := secret.Validate(); err != nil {
		return nil, status.Errorf(codes.Internal, "secret %q is invalid: %v", secret.GetName(), err)
	}
	a, err := anypb.New(secret)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "pack secret %q: %v", secret.GetName(), err)
	}
	return a, nil
}

// contentHash identifies a set of resources by content.
func contentHash(resources []*anypb.Any) (string, error) {
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	for _, r := range resources {
		b, err := opts.Marshal(r)
		if err != nil {
			return "", fmt.Errorf("hash resources: %w", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func encodePEM(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
