package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"mercato.dev/services/kit/coalesce"
	"mercato.dev/services/kit/identity"
)

const (
	handshakeTimeout  = 10 * time.Second
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 1 << 20
)

// connTracker accepts raw TCP connections, completes the mTLS handshake itself (so a plaintext
// HTTP/1.1 request or an h2c preface never reaches an HTTP server and gets no response), then
// serves each connection with HTTP/2 or HTTP/1.1. Every connection is retired gracefully before
// the SVIDs it was made with expire: HTTP/2 with GOAWAY, HTTP/1.1 with "Connection: close".
type connTracker struct {
	opts    Options
	tls     *tls.Config
	handler http.Handler
	h1      *h1Server

	mu      sync.Mutex
	closing bool
	h2      map[*tls.Conn]*http.Server
	wg      sync.WaitGroup
}

func newConnTracker(opts Options, handler http.Handler) *connTracker {
	return &connTracker{
		opts:    opts,
		tls:     identity.ServerTLS(identity.Fresh(opts.Source), opts.TrustDomain),
		handler: handler,
		h1:      newH1Server(handler, opts.Logger),
		h2:      map[*tls.Conn]*http.Server{},
	}
}

func (t *connTracker) accept(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		go t.serve(c)
	}
}

func (t *connTracker) serve(raw net.Conn) {
	wc := coalesce.Wrap(raw)
	tc := tls.Server(wc, t.tls)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		t.opts.Logger.Warn("TLS handshake refused", "remote", raw.RemoteAddr().String(), "error", err.Error())
		_ = wc.Close() // the alert the handshake queued, if any, is sent first
		return
	}
	state := tc.ConnectionState()
	retire := retireAt(state, t.opts.Source, time.Now())
	if state.NegotiatedProtocol == "h2" {
		t.serveH2(tc, retire)
		return
	}
	if !t.h1.offer(tc, retire) {
		_ = tc.Close()
	}
}

// serveH2 serves one HTTP/2 connection with its own http2.Server, so that this connection
// alone can be sent a graceful GOAWAY when it is due for retirement.
func (t *connTracker) serveH2(tc *tls.Conn, retire time.Time) {
	hs := &http.Server{
		Handler:           t.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(t.opts.Logger.Handler(), slog.LevelDebug),
	}
	h2s := &http2.Server{MaxConcurrentStreams: 256, IdleTimeout: idleTimeout, ReadIdleTimeout: 30 * time.Second, PingTimeout: 15 * time.Second}
	if err := http2.ConfigureServer(hs, h2s); err != nil || !t.track(tc, hs) {
		_ = tc.Close()
		return
	}
	defer t.untrack(tc)
	timer := time.AfterFunc(time.Until(retire), func() { _ = hs.Shutdown(context.Background()) })
	defer timer.Stop()
	h2s.ServeConn(tc, &http2.ServeConnOpts{Context: context.Background(), BaseConfig: hs, Handler: t.handler})
}

func (t *connTracker) track(tc *tls.Conn, hs *http.Server) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.h2[tc] = hs
	t.wg.Add(1)
	return true
}

func (t *connTracker) untrack(tc *tls.Conn) {
	t.mu.Lock()
	delete(t.h2, tc)
	t.mu.Unlock()
	t.wg.Done()
}

// shutdown sends GOAWAY on every HTTP/2 connection, closes idle HTTP/1.1 ones, and waits for
// in-flight calls until ctx ends; then it cuts what is left.
func (t *connTracker) shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.closing = true
	servers := make(map[*tls.Conn]*http.Server, len(t.h2))
	for c, hs := range t.h2 {
		servers[c] = hs
	}
	t.mu.Unlock()
	for _, hs := range servers {
		_ = hs.Shutdown(ctx)
	}
	errH1 := t.h1.shutdown(ctx)
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return errH1
	case <-ctx.Done():
		for c := range servers {
			_ = c.Close()
		}
		return errors.Join(errH1, errors.New("drain timed out: in-flight HTTP/2 calls were cut"))
	}
}

// retireAt picks when a connection stops taking new calls: between 80% and 90% of the time left
// on the earlier-expiring of the two SVIDs it was made with (jittered, so that connections made
// together do not all reconnect together).
func retireAt(state tls.ConnectionState, own identity.Source, now time.Time) time.Time {
	expiry := now.Add(24 * time.Hour)
	if len(state.PeerCertificates) > 0 {
		expiry = minTime(expiry, state.PeerCertificates[0].NotAfter)
	}
	if svid, err := own.GetX509SVID(); err == nil {
		expiry = minTime(expiry, svid.Certificates[0].NotAfter)
	}
	left := expiry.Sub(now)
	return now.Add(time.Duration(float64(left) * (0.8 + 0.1*rand.Float64())))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
