package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mercato.dev/services/kit/coalesce"
)

// Envoy's defaults for downstream connections, and a bound on slow clients.
const (
	defaultIdleTimeout = time.Hour
	readHeaderTimeout  = 10 * time.Second
	maxHeaderBytes     = 60 << 10
	reloadEvery        = time.Second
)

// Set is the edge's running listeners.
type Set struct {
	handler func(name string) http.Handler // the current configuration's manager of a listener
	logger  *slog.Logger

	mu      sync.Mutex
	running map[string]*server
}

// NewSet returns an empty set serving each listener's requests with handler(name).
func NewSet(handler func(name string) http.Handler, logger *slog.Logger) *Set {
	return &Set{handler: handler, logger: logger, running: map[string]*server{}}
}

// server is one running listener.
type server struct {
	name  string
	addr  string // as configured
	ln    *limitListener
	srv   *http.Server
	creds atomic.Pointer[credentials]
	spec  atomic.Pointer[Spec] // the current configuration: new connections use its settings
	done  chan struct{}

	mu sync.Mutex
	h2 map[*http.Server]struct{} // one per HTTP/2 connection, to send it GOAWAY
}

// Prepare checks specs against what runs: it loads every certificate and binds every new or
// moved address. Nothing serves differently until commit is called; on error nothing changed.
func (s *Set) Prepare(specs map[string]*Spec) (commit func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	creds := make(map[string]*credentials, len(specs))
	fresh := map[string]*server{}
	abort := func() {
		for _, srv := range fresh {
			_ = srv.ln.Close()
		}
	}
	for name, spec := range specs {
		c, err := newCredentials(spec.TLS, s.logger)
		if err != nil {
			abort()
			return nil, err
		}
		creds[name] = c
		if cur := s.running[name]; cur != nil && cur.addr == spec.Addr {
			continue
		}
		ln, err := net.Listen("tcp", spec.Addr)
		if err != nil {
			abort()
			return nil, err
		}
		srv := &server{name: name, addr: spec.Addr, done: make(chan struct{}), h2: map[*http.Server]struct{}{}}
		srv.ln = &limitListener{Listener: coalesce.Listener{Listener: ln}, limit: func() ConnLimit { return srv.spec.Load().Limit }}
		fresh[name] = srv
	}
	return func() { s.commit(specs, creds, fresh) }, nil
}

func (s *Set) commit(specs map[string]*Spec, creds map[string]*credentials, fresh map[string]*server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, cur := range s.running {
		if _, keep := specs[name]; !keep || fresh[name] != nil {
			go s.stop(cur)
			delete(s.running, name)
		}
	}
	for name, srv := range fresh {
		srv.creds.Store(creds[name])
		srv.spec.Store(specs[name])
		s.start(srv, specs[name])
		s.running[name] = srv
	}
	for name, srv := range s.running {
		srv.creds.Store(creds[name])
		srv.spec.Store(specs[name])
	}
}

// timeouts are the manager's connection settings, with the listener's defaults.
func timeouts(spec *Spec) (idle, headers time.Duration) {
	idle, headers = spec.Manager.IdleTimeout, spec.Manager.RequestHeadersTimeout
	if idle == 0 {
		idle = defaultIdleTimeout
	}
	if headers == 0 {
		headers = readHeaderTimeout
	}
	return idle, headers
}

func (s *Set) start(srv *server, spec *Spec) {
	idle, headers := timeouts(spec)
	name := srv.name
	srv.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.handler(name).ServeHTTP(w, r) }),
		ReadHeaderTimeout: headers,
		IdleTimeout:       idle,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSConfig: &tls.Config{
			NextProtos:         []string{"h2", "http/1.1"}, // each handshake gets the listener's own ALPN
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return srv.creds.Load().config(), nil },
		},
		// HTTP/2 is served per connection (serveH2), so that one connection can be sent GOAWAY.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){"h2": func(_ *http.Server, c *tls.Conn, h http.Handler) {
			s.serveH2(srv, c, h)
		}},
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	srv.srv.RegisterOnShutdown(srv.goAwayAll)
	go func() {
		defer close(srv.done)
		err := srv.srv.ServeTLS(srv.ln, "", "")
		if !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("listener stopped", "listener", name, "error", err)
		}
	}()
	s.logger.Info("listening", "listener", name, "addr", srv.ln.Addr().String(), "alpn", spec.TLS.ALPN)
}

// stop shuts a listener down gracefully: no new connections, in-flight requests finish.
func (s *Set) stop(srv *server) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.srv.Shutdown(ctx)
	s.logger.Info("listener closed", "listener", srv.name, "addr", srv.ln.Addr().String())
}

// Addr is the bound address of the named listener, "" when it is not running.
func (s *Set) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv := s.running[name]; srv != nil {
		return srv.ln.Addr().String()
	}
	return ""
}

// Check reports an error when one of the named listeners is not serving.
func (s *Set) Check(names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(names) == 0 {
		return errors.New("no listener configured yet")
	}
	for _, name := range slices.Sorted(slices.Values(names)) {
		srv := s.running[name]
		if srv == nil {
			return errors.New("listener " + name + " not running")
		}
		select {
		case <-srv.done:
			return errors.New("listener " + name + " stopped")
		default:
		}
	}
	return nil
}

// Shutdown stops every listener, waiting for in-flight requests until ctx ends.
func (s *Set) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	running := s.running
	s.running = map[string]*server{}
	s.mu.Unlock()
	var errs []error
	for _, srv := range running {
		errs = append(errs, srv.srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// credentials is a listener's certificate and ALPN, re-reading the certificate files when they
// change (checked at most once a second, on handshakes).
type credentials struct {
	spec   TLSSpec
	logger *slog.Logger

	mu      sync.Mutex
	cfg     *tls.Config
	stamp   fileStamp
	checked time.Time
}

func newCredentials(spec TLSSpec, logger *slog.Logger) (*credentials, error) {
	c := &credentials{spec: spec, logger: logger}
	pair, stamp, err := spec.loadPair()
	if err != nil {
		return nil, err
	}
	c.set(pair, stamp)
	return c, nil
}

func (c *credentials) set(pair *tls.Certificate, stamp fileStamp) {
	c.cfg = &tls.Config{
		Certificates: []tls.Certificate{*pair},
		NextProtos:   c.spec.ALPN,
		MinVersion:   c.spec.MinVersion,
	}
	if len(c.cfg.NextProtos) == 0 {
		c.cfg.NextProtos = []string{"http/1.1"}
	}
	c.stamp = stamp
}

func (c *credentials) config() *tls.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= reloadEvery && c.spec.CertFile != "" {
		c.checked = now
		if (fileStamp{statStamp(c.spec.CertFile), statStamp(c.spec.KeyFile)}) != c.stamp {
			pair, stamp, err := c.spec.loadPair()
			if err != nil {
				c.logger.Warn("certificate changed but cannot be loaded; keeping the previous one", "cert", c.spec.CertFile, "error", err.Error())
				c.stamp = stamp // do not retry until the files change again
			} else {
				c.set(pair, stamp)
				c.logger.Info("certificate reloaded", "cert", c.spec.CertFile)
			}
		}
	}
	return c.cfg
}
