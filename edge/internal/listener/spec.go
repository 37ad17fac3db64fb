// Package listener runs the edge's public listeners (LDS): each is an HTTPS server on the
// listener's address, with the certificate and key FILES its DownstreamTlsContext names (re-read
// when they change on disk), the ALPN protocols it lists (h2 and http/1.1: HTTP/2 for gRPC, both
// for Connect and gRPC-Web), an optional connection_limit network filter, and one HTTP
// connection manager (whose idle, request-header and stream-idle timeouts and HTTP/2 stream
// limit the listener applies). An HTTP/2 client that keeps resetting the streams it has just
// opened (rapid reset, CVE-2023-44487) is sent GOAWAY and its connection closed (resetguard.go).
package listener

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	connlimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"mercato.dev/edge/internal/hcm"
)

const tlsInspector = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"

// Spec is a compiled Listener.
type Spec struct {
	Name    string
	Addr    string // host:port as configured (port 0 picks one)
	TLS     TLSSpec
	Limit   ConnLimit
	Manager *hcm.Manager
}

// ConnLimit is the connection_limit network filter: at most Max connections at once (0: no
// limit); one more is closed after Delay.
type ConnLimit struct {
	Max   int64
	Delay time.Duration
}

// TLSSpec is the listener's DownstreamTlsContext: the public certificate (files, or inline PEM)
// and ALPN.
type TLSSpec struct {
	CertFile, KeyFile string
	CertPEM, KeyPEM   []byte
	ALPN              []string
	MinVersion        uint16
}

// IsAPIListener reports whether l is a proxyless gRPC API listener, which is not for the edge.
func IsAPIListener(l *listenerv3.Listener) bool { return l.GetApiListener() != nil }

// Parse compiles l. The error is hcm.ErrWarming when l's route configuration has not arrived.
func Parse(l *listenerv3.Listener, opts hcm.Options) (*Spec, error) {
	sa := l.GetAddress().GetSocketAddress()
	if sa == nil || sa.GetProtocol() != corev3.SocketAddress_TCP {
		return nil, errors.New("only TCP socket addresses are supported by the dev edge")
	}
	if l.GetDefaultFilterChain() != nil || len(l.GetFilterChains()) != 1 || l.GetFilterChainMatcher() != nil {
		return nil, errors.New("exactly one filter chain is supported by the dev edge")
	}
	for _, lf := range l.GetListenerFilters() {
		if lf.GetTypedConfig().GetTypeUrl() != tlsInspector {
			return nil, fmt.Errorf("listener filter %s is not supported by the dev edge", lf.GetName())
		}
	}
	fc := l.GetFilterChains()[0]
	if m := fc.GetFilterChainMatch(); m != nil && !isEmptyMatch(m) {
		return nil, errors.New("filter_chain_match is not supported by the dev edge")
	}
	tlsSpec, err := parseTLS(fc.GetTransportSocket())
	if err != nil {
		return nil, err
	}
	filters := fc.GetFilters()
	var limit ConnLimit
	if len(filters) == 2 {
		if limit, err = parseConnLimit(filters[0]); err != nil {
			return nil, err
		}
		filters = filters[1:]
	}
	if len(filters) != 1 {
		return nil, errors.New("the filter chain must hold an optional connection_limit and one http_connection_manager")
	}
	m := &hcmv3.HttpConnectionManager{}
	if err := filters[0].GetTypedConfig().UnmarshalTo(m); err != nil {
		return nil, fmt.Errorf("network filter %s: want an HttpConnectionManager: %w", filters[0].GetName(), err)
	}
	mgr, err := hcm.New(m, opts)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
	return &Spec{Name: l.GetName(), Addr: addr, TLS: tlsSpec, Limit: limit, Manager: mgr}, nil
}

func parseConnLimit(f *listenerv3.Filter) (ConnLimit, error) {
	c := &connlimitv3.ConnectionLimit{}
	if err := f.GetTypedConfig().UnmarshalTo(c); err != nil {
		return ConnLimit{}, fmt.Errorf("network filter %s: want a ConnectionLimit before the HttpConnectionManager: %w", f.GetName(), err)
	}
	if c.GetRuntimeEnabled() != nil {
		return ConnLimit{}, errors.New("connection_limit runtime_enabled is not supported by the dev edge")
	}
	limit := ConnLimit{Delay: c.GetDelay().AsDuration()}
	if n := c.GetMaxConnections().GetValue(); n > 0 {
		limit.Max = int64(min(n, 1<<62))
	}
	return limit, nil
}

func isEmptyMatch(m *listenerv3.FilterChainMatch) bool {
	return m.GetDestinationPort() == nil && len(m.GetServerNames()) == 0 && m.GetTransportProtocol() == "" &&
		len(m.GetApplicationProtocols()) == 0 && len(m.GetPrefixRanges()) == 0 && len(m.GetSourcePrefixRanges()) == 0
}

func parseTLS(ts *corev3.TransportSocket) (TLSSpec, error) {
	if ts == nil {
		return TLSSpec{}, errors.New("a listener without TLS is not supported by the dev edge")
	}
	d := &tlsv3.DownstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(d); err != nil {
		return TLSSpec{}, fmt.Errorf("transport socket %s: want a DownstreamTlsContext: %w", ts.GetName(), err)
	}
	if d.GetRequireClientCertificate().GetValue() {
		return TLSSpec{}, errors.New("client certificates on the public listener are not supported by the dev edge")
	}
	ctx := d.GetCommonTlsContext()
	certs := ctx.GetTlsCertificates()
	if len(certs) != 1 || len(ctx.GetTlsCertificateSdsSecretConfigs()) > 0 {
		return TLSSpec{}, errors.New("the public listener needs exactly one tls_certificate (files; the public certificate is not an SVID)")
	}
	spec := TLSSpec{ALPN: ctx.GetAlpnProtocols(), MinVersion: tls.VersionTLS12}
	if ctx.GetTlsParams().GetTlsMinimumProtocolVersion() == tlsv3.TlsParameters_TLSv1_3 {
		spec.MinVersion = tls.VersionTLS13
	}
	var err error
	if spec.CertFile, spec.CertPEM, err = dataSource(certs[0].GetCertificateChain()); err != nil {
		return TLSSpec{}, fmt.Errorf("certificate_chain: %w", err)
	}
	if spec.KeyFile, spec.KeyPEM, err = dataSource(certs[0].GetPrivateKey()); err != nil {
		return TLSSpec{}, fmt.Errorf("private_key: %w", err)
	}
	return spec, nil
}

func dataSource(ds *corev3.DataSource) (file string, inline []byte, err error) {
	switch s := ds.GetSpecifier().(type) {
	case *corev3.DataSource_Filename:
		return s.Filename, nil, nil
	case *corev3.DataSource_InlineString:
		return "", []byte(s.InlineString), nil
	case *corev3.DataSource_InlineBytes:
		return "", s.InlineBytes, nil
	default:
		return "", nil, fmt.Errorf("data source %T is not supported by the dev edge", s)
	}
}

// loadPair reads the certificate and key; an unreadable or mismatched pair is an error (Envoy
// refuses such a listener).
func (t TLSSpec) loadPair() (*tls.Certificate, fileStamp, error) {
	certPEM, keyPEM := t.CertPEM, t.KeyPEM
	var stamp fileStamp
	if t.CertFile != "" {
		b, st, err := readStamped(t.CertFile)
		if err != nil {
			return nil, stamp, err
		}
		certPEM, stamp.cert = b, st
	}
	if t.KeyFile != "" {
		b, st, err := readStamped(t.KeyFile)
		if err != nil {
			return nil, stamp, err
		}
		keyPEM, stamp.key = b, st
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, stamp, fmt.Errorf("certificate %s / key %s: %w", t.CertFile, t.KeyFile, err)
	}
	return &pair, stamp, nil
}

// fileStamp identifies the versions of the certificate and key files loaded.
type fileStamp struct{ cert, key stamp }

type stamp struct {
	mod  int64
	size int64
}

func readStamped(path string) ([]byte, stamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, stamp{}, err
	}
	b, err := os.ReadFile(path)
	return b, stamp{st.ModTime().UnixNano(), st.Size()}, err
}

func statStamp(path string) stamp {
	if path == "" {
		return stamp{}
	}
	st, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{st.ModTime().UnixNano(), st.Size()}
}
