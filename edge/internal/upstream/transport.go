package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"golang.org/x/net/http2"

	"mercato.dev/services/kit/coalesce"
	"mercato.dev/services/kit/identity"
)

// transport is a cluster's connection pool.
type transport interface {
	RoundTrip(*http.Request) (*http.Response, error)
	CloseIdleConnections()
}

// newTransport is the connection pool of a cluster: mutual TLS with the edge's SVID, the server
// verified against the trust bundle and the cluster's SPIFFE IDs (go-spiffe), HTTP/2 when the
// cluster says so. No response is decompressed or otherwise touched: the edge is a proxy.
//
// An HTTP/2 cluster uses golang.org/x/net/http2's Transport, whose pool dials an endpoint once
// and lets the requests that arrive meanwhile wait for that connection, as Envoy's pending
// requests do; net/http's Transport dials once per waiting request (a burst of full mTLS
// handshakes when a cluster starts under load) and keeps the extra connections idle.
func newTransport(src identity.Source, s *Settings, st *state) transport {
	d := &dialer{tls: clientTLS(src, s), timeout: s.ConnectTimeout, st: st}
	if s.HTTP2 {
		return &http2.Transport{
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				return d.dial(ctx, network, addr)
			},
			DisableCompression: true,
			IdleConnTimeout:    s.IdleTimeout,
			ReadIdleTimeout:    30 * time.Second,
			PingTimeout:        15 * time.Second,
		}
	}
	return &http.Transport{
		DialTLSContext:      d.dial,
		ForceAttemptHTTP2:   s.HTTP2,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     s.IdleTimeout,
		DisableCompression:  true,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
}

// clientTLS verifies the server's SVID against the trust bundle and the cluster's SPIFFE IDs.
// It keeps no session cache: every connection is fully verified.
func clientTLS(src identity.Source, s *Settings) *tls.Config {
	auth := tlsconfig.AuthorizeAny()
	if len(s.TLS.IDs) > 0 {
		auth = tlsconfig.AuthorizeOneOf(s.TLS.IDs...)
	}
	cfg := tlsconfig.MTLSClientConfig(src, src, auth)
	cfg.MinVersion = tls.VersionTLS13
	cfg.ServerName = s.TLS.SNI
	cfg.NextProtos = s.TLS.ALPN
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
		if s.HTTP2 {
			cfg.NextProtos = []string{"h2"}
		}
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.DidResume {
			return errors.New("resumed TLS session refused: the peer must be verified")
		}
		return nil
	}
	return cfg
}

// dialer opens counted, TLS-handshaken connections within the cluster's connect_timeout and
// max_connections.
type dialer struct {
	tls     *tls.Config
	timeout time.Duration
	st      *state
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if !tryAcquire(&d.st.conns, d.st.maxConns.Load()) {
		return nil, &Overflow{Cluster: d.st.name, Breaker: "max_connections"}
	}
	// The connection outlives the request that happened to start the dial (an HTTP/2 dial is
	// shared by every request waiting for it): only connect_timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
	defer cancel()
	raw, err := (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		d.st.conns.Add(-1)
		return nil, &ConnectError{Addr: addr, Err: err}
	}
	hs := d.st.host(addr)
	var up atomic.Bool
	cc := &countedConn{Conn: coalesce.Wrap(raw)}
	cc.release = sync.OnceFunc(func() {
		d.st.conns.Add(-1)
		if up.Load() {
			hs.conns.Add(-1)
		}
	})
	tc := tls.Client(cc, d.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = tc.Close()
		return nil, &ConnectError{Addr: addr, Err: err}
	}
	up.Store(true)
	hs.conns.Add(1) // established: requests to this endpoint no longer wait for a connection
	return tc, nil
}

// countedConn gives its slot back when closed.
type countedConn struct {
	net.Conn
	release func()
}

func (c *countedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
