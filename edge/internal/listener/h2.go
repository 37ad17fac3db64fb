package listener

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// abusiveCloseAfter is how long a connection sent GOAWAY for abuse may finish its streams.
const abusiveCloseAfter = time.Second

// serveH2 serves one HTTP/2 connection with its own http2.Server, watching its frames for a
// rapid-reset flood: when the client has reset too many of the streams it just opened, the
// connection gets GOAWAY and is closed a second later.
func (s *Set) serveH2(srv *server, c *tls.Conn, h http.Handler) {
	spec := srv.spec.Load()
	idle, headers := timeouts(spec)
	base := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headers,
		IdleTimeout:       idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	h2s := &http2.Server{MaxConcurrentStreams: spec.Manager.MaxConcurrentStreams, IdleTimeout: idle}
	if err := http2.ConfigureServer(base, h2s); err != nil || !srv.track(base) {
		_ = c.Close()
		return
	}
	defer srv.untrack(base)
	var guard *resetGuard
	guard = newResetGuard(c, func(streams, resets int) {
		s.logger.Warn("HTTP/2 rapid reset: sending GOAWAY and closing the connection",
			"listener", srv.name, "remote", c.RemoteAddr().String(), "streams", streams, "premature_resets", resets)
		abusiveConns.Add(1)
		go goAway(base)
		time.AfterFunc(abusiveCloseAfter, func() { _ = guard.Close() })
	})
	h2s.ServeConn(guard, &http2.ServeConnOpts{Context: context.Background(), BaseConfig: base, Handler: h})
}

// abusiveConns counts connections closed for rapid reset (for tests and metrics).
var abusiveConns atomic.Int64

// AbusiveConnections is how many HTTP/2 connections this process closed for rapid reset.
func AbusiveConnections() int64 { return abusiveConns.Load() }

// goAway starts the graceful shutdown of one connection's server: GOAWAY, then the in-flight
// streams finish.
func goAway(base *http.Server) { _ = base.Shutdown(context.Background()) }

func (srv *server) track(base *http.Server) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.h2 == nil {
		return false // shutting down
	}
	srv.h2[base] = struct{}{}
	return true
}

func (srv *server) untrack(base *http.Server) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.h2, base)
}

// goAwayAll sends GOAWAY on every HTTP/2 connection of the listener (its shutdown).
func (srv *server) goAwayAll() {
	srv.mu.Lock()
	bases := srv.h2
	srv.h2 = nil
	srv.mu.Unlock()
	for base := range bases {
		go goAway(base)
	}
}

// limitListener is the connection_limit network filter: beyond the limit, a new connection is
// closed (after the configured delay) without being served.
type limitListener struct {
	net.Listener
	limit  func() ConnLimit
	active atomic.Int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lim := l.limit()
		if lim.Max > 0 && l.active.Load() >= lim.Max {
			refusedConns.Add(1)
			if lim.Delay > 0 {
				time.AfterFunc(lim.Delay, func() { _ = c.Close() })
			} else {
				_ = c.Close()
			}
			continue
		}
		l.active.Add(1)
		return &countedConn{Conn: c, release: sync.OnceFunc(func() { l.active.Add(-1) })}, nil
	}
}

// refusedConns counts connections closed by a connection limit.
var refusedConns atomic.Int64

// RefusedConnections is how many connections this process closed for a connection limit.
func RefusedConnections() int64 { return refusedConns.Load() }

type countedConn struct {
	net.Conn
	release func()
}

func (c *countedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
