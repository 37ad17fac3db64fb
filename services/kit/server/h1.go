package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// h1Server serves the connections that negotiated HTTP/1.1 (gRPC-Web and Connect clients
// without HTTP/2) through one http.Server fed by a channel of already-handshaken connections.
type h1Server struct {
	srv   *http.Server
	ln    *chanListener
	conns sync.Map // net.Conn → *h1Conn
}

type h1Conn struct {
	retire time.Time
	mu     sync.Mutex
	idle   bool
	timer  *time.Timer
}

type retireKey struct{}

func newH1Server(handler http.Handler, logger *slog.Logger) *h1Server {
	s := &h1Server{ln: newChanListener()}
	s.srv = &http.Server{
		Handler:           s.closeWhenRetired(handler),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/2 never arrives here
		ConnState:         s.connState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, retireKey{}, c)
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	go func() { _ = s.srv.Serve(s.ln) }()
	return s
}

// offer hands a handshaken connection to the HTTP/1.1 server; false once it is shutting down.
func (s *h1Server) offer(c *tls.Conn, retire time.Time) bool {
	hc := &h1Conn{retire: retire}
	s.conns.Store(net.Conn(c), hc)
	hc.timer = time.AfterFunc(time.Until(retire), func() { hc.closeIfIdle(c) })
	if !s.ln.push(c) {
		hc.timer.Stop()
		s.conns.Delete(net.Conn(c))
		return false
	}
	return true
}

func (hc *h1Conn) closeIfIdle(c net.Conn) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.idle {
		_ = c.Close()
	}
}

func (s *h1Server) connState(c net.Conn, state http.ConnState) {
	v, ok := s.conns.Load(c)
	if !ok {
		return
	}
	hc := v.(*h1Conn)
	switch state {
	case http.StateIdle:
		hc.mu.Lock()
		hc.idle = true
		hc.mu.Unlock()
		if time.Now().After(hc.retire) {
			hc.closeIfIdle(c)
		}
	case http.StateActive:
		hc.mu.Lock()
		hc.idle = false
		hc.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		hc.timer.Stop()
		s.conns.Delete(c)
	}
}

// closeWhenRetired asks the client to close a connection past its retirement after this response.
func (s *h1Server) closeWhenRetired(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(retireKey{}).(net.Conn); ok {
			if v, ok := s.conns.Load(c); ok && time.Now().After(v.(*h1Conn).retire) {
				w.Header().Set("Connection", "close")
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *h1Server) shutdown(ctx context.Context) error {
	_ = s.ln.Close()
	return s.srv.Shutdown(ctx)
}

// chanListener is a net.Listener whose connections are pushed to it.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }
