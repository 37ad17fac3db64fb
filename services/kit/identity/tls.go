package identity

import (
	"crypto/tls"
	"errors"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// ServerTLS is the configuration of every RPC listener: mutual TLS that admits only SVIDs of
// trustDomain, TLS 1.3, HTTP/2 preferred. Session resumption is off, because Go skips
// go-spiffe's peer verification on resumed sessions; VerifyConnection refuses one regardless.
func ServerTLS(src Source, trustDomain spiffeid.TrustDomain) *tls.Config {
	cfg := tlsconfig.MTLSServerConfig(src, src, tlsconfig.AuthorizeMemberOf(trustDomain))
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{"h2", "http/1.1"}
	cfg.SessionTicketsDisabled = true
	cfg.VerifyConnection = refuseResumption
	return cfg
}

// ClientTLS is the configuration for calling the server that must present the SVID server.
// It keeps no session cache, so every connection is fully verified.
func ClientTLS(src Source, server spiffeid.ID) *tls.Config {
	cfg := tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeID(server))
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{"h2", "http/1.1"}
	cfg.VerifyConnection = refuseResumption
	return cfg
}

func refuseResumption(cs tls.ConnectionState) error {
	if cs.DidResume {
		return errors.New("resumed TLS sessions are not accepted: peer must be verified")
	}
	return nil
}

// PeerID returns the SPIFFE ID of the verified peer of a TLS connection.
func PeerID(cs *tls.ConnectionState) (spiffeid.ID, error) {
	if cs == nil {
		return spiffeid.ID{}, errors.New("not a TLS connection")
	}
	return spiffetls.PeerIDFromConnectionState(*cs)
}
