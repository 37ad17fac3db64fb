// Package identity names Mercato's SPIFFE identities and builds the mTLS configurations that
// carry them. Certificates come only from the Workload API; configurations read the current SVID
// and trust bundle on every handshake, so a rotation needs no restart.
package identity

import (
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// TrustDomain is Mercato's SPIFFE trust domain.
var TrustDomain = spiffeid.RequireTrustDomainFromString("mercato.local")

// Well-known identities of the platform's processes.
var (
	Edge   = spiffeid.RequireFromPath(TrustDomain, "/edge")
	XDS    = spiffeid.RequireFromPath(TrustDomain, "/xds")
	OpsCLI = spiffeid.RequireFromPath(TrustDomain, "/ops/cli")
	// Broker is the NATS JetStream broker (broker/cmd/broker).
	Broker = spiffeid.RequireFromPath(TrustDomain, "/broker")
)

// Service returns the SPIFFE ID of the named service, e.g. spiffe://mercato.local/svc/orders.
func Service(name string) spiffeid.ID {
	return spiffeid.RequireFromPath(TrustDomain, "/svc/"+name)
}

// Source supplies this process's SVID and the trust bundles to verify peers with.
// A *workloadapi.X509Source is one.
type Source interface {
	x509svid.Source
	x509bundle.Source
}
