// Package embedded runs Mercato's event broker inside a process: a NATS server with JetStream
// that accepts only mutual TLS with SPIFFE SVIDs and maps each client's SPIFFE ID (the URI SAN
// of its certificate, NATS's verify_and_map) to a user whose permissions come from the bus
// authorization table (package busauthz). It is the code of the broker binary (broker/cmd/broker,
// which `mercato up`, compose and Kubernetes run) and of tests that stop and restart a broker
// on the same store.
//
// The server presents the SVID of its X509Source (spiffe://mercato.local/broker in the
// platform) and reads the current SVID and trust bundle on every handshake, so a rotation needs
// no restart. It refuses plaintext clients, clients without a certificate, certificates of
// another trust domain and every identity not in the table; session tickets are disabled (Go
// skips peer verification on resumed sessions). A connection whose client SVID has expired is
// closed (the client reconnects with its current SVID, see events.Connect).
package embedded

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/busauthz"
	"mercato.dev/services/kit/identity"
)

// Options configures Start.
type Options struct {
	// Dir holds JetStream's storage; a server started again on the same Dir finds its streams,
	// messages, consumers and duplicate-detection state. Required.
	Dir string
	// Host is the listening address (default 127.0.0.1).
	Host string
	// Port is the client port; 0 picks a free one (read it back with Server.Port, and pass it
	// to restart a server where its clients reconnect).
	Port int
	// Name is the server name (default "mercato").
	Name string
	// Source supplies the broker's SVID and the trust bundle clients are verified with.
	// Required.
	Source identity.Source
	// TrustDomain is the trust domain of admitted clients (default identity.TrustDomain).
	TrustDomain spiffeid.TrustDomain
	// Table grants the identities that may connect (default busauthz.Platform()).
	Table busauthz.Table
	// Extra adds users with explicit permissions, for tests that inspect the broker; the
	// broker binary never sets it.
	Extra map[spiffeid.ID]busauthz.Permissions
	// ExpirySweep is how often connections made with an SVID that has since expired are
	// looked for and closed (default 1s).
	ExpirySweep time.Duration
	// Logger receives the server's notices, warnings and errors (default: none).
	Logger *slog.Logger
}

// Server is a running broker.
type Server struct {
	ns     *server.Server
	url    string
	port   int
	expiry *expiry
	stop   context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start starts the broker with JetStream storing under opts.Dir and waits, within ctx (at most
// 10 s without a deadline), until it accepts clients. The server runs until Shutdown; it
// installs no signal handlers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	nopts, exp, err := serverOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	ns, err := server.NewServer(nopts)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if opts.Logger != nil {
		ns.SetLoggerV2(slogAdapter{opts.Logger.With("component", "nats-server")}, false, false, false)
	}
	go ns.Start()
	wait := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !ns.ReadyForConnections(wait) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("broker: not ready after %s on %s", wait, net.JoinHostPort(nopts.Host, strconv.Itoa(opts.Port)))
	}
	port := ns.Addr().(*net.TCPAddr).Port
	sweepCtx, stop := context.WithCancel(context.Background())
	s := &Server{ns: ns, port: port, url: "tls://" + net.JoinHostPort(nopts.Host, strconv.Itoa(port)), expiry: exp, stop: stop, done: make(chan struct{})}
	go s.sweep(sweepCtx, opts.ExpirySweep, opts.Logger)
	return s, nil
}

// serverOptions builds the NATS server's options: TLS from the SVID source, verify_and_map,
// one user per SPIFFE ID of the table (plus Extra).
func serverOptions(opts Options) (*server.Options, *expiry, error) {
	if opts.Dir == "" {
		return nil, nil, errors.New("broker: Options.Dir is required")
	}
	if opts.Source == nil {
		return nil, nil, errors.New("broker: Options.Source is required (the broker serves mTLS only)")
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Name == "" {
		opts.Name = "mercato"
	}
	if opts.TrustDomain.IsZero() {
		opts.TrustDomain = identity.TrustDomain
	}
	if opts.Table == nil {
		opts.Table = busauthz.Platform()
	}
	if err := opts.Table.Validate(); err != nil {
		return nil, nil, err
	}
	users, err := Users(opts.Table, opts.Extra)
	if err != nil {
		return nil, nil, err
	}
	exp := &expiry{notAfter: map[string]time.Time{}}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return &server.Options{
		ServerName: opts.Name,
		Host:       opts.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.Dir,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
		TLSConfig:  serverTLS(opts.Source, opts.TrustDomain, exp),
		TLSTimeout: 5,
		TLSMap:     true,
		Users:      users,
	}, exp, nil
}

// serverTLS is the kit's mTLS server configuration (any SVID of the trust domain; the user
// mapping then admits only the table's identities), without ALPN, and recording when each
// client certificate expires.
func serverTLS(src identity.Source, td spiffeid.TrustDomain, exp *expiry) *tls.Config {
	cfg := identity.ServerTLS(identity.Fresh(src), td)
	cfg.NextProtos = nil
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := verify(cs); err != nil {
			return err
		}
		if len(cs.PeerCertificates) > 0 {
			exp.record(cs.PeerCertificates[0].Raw, cs.PeerCertificates[0].NotAfter)
		}
		return nil
	}
	return cfg
}

// Users turns a table (and extra users) into NATS users named by SPIFFE ID, without password:
// with verify_and_map only a client presenting that ID's SVID becomes that user.
func Users(table busauthz.Table, extra map[spiffeid.ID]busauthz.Permissions) ([]*server.User, error) {
	var users []*server.User
	add := func(id spiffeid.ID, p busauthz.Permissions) {
		users = append(users, &server.User{
			Username: id.String(),
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: p.Publish},
				Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
			},
		})
	}
	for _, id := range table.IDs() {
		p, _ := table.Permissions(id)
		add(id, p)
	}
	for id, p := range extra {
		if _, dup := table[id]; dup {
			return nil, fmt.Errorf("broker: extra user %s is in the table", id)
		}
		add(id, p)
	}
	return users, nil
}

// URL is the client URL, tls://host:port.
func (s *Server) URL() string { return s.url }

// Port is the client port the server listens on.
func (s *Server) Port() int { return s.port }

// NATS returns the server itself.
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown stops the server, closing its clients and flushing JetStream storage, and waits
// until it is done. It may be called more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.stop()
		<-s.done
	})
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// expiry remembers when each client certificate seen in a handshake expires, by its SHA-256
// (the fingerprint NATS's connection monitor reports).
type expiry struct {
	mu       sync.Mutex
	notAfter map[string]time.Time
}

func (e *expiry) record(der []byte, notAfter time.Time) {
	sum := sha256.Sum256(der)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notAfter[hex.EncodeToString(sum[:])] = notAfter
}

// expired returns the fingerprints of certificates expired at now, forgetting those expired
// for more than a minute (their connections are gone by then).
func (e *expiry) expired(now time.Time) map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]bool{}
	for fp, t := range e.notAfter {
		if now.After(t) {
			out[fp] = true
		}
		if now.Sub(t) > time.Minute {
			delete(e.notAfter, fp)
		}
	}
	return out
}

// sweep closes, every interval, the connections whose client SVID has expired: the identity
// was checked at the handshake, and a connection must not outlive the certificate that proved
// it (well-behaved clients reconnect before, see events.Connect).
func (s *Server) sweep(ctx context.Context, interval time.Duration, log *slog.Logger) {
	defer close(s.done)
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		expired := s.expiry.expired(time.Now())
		if len(expired) == 0 {
			continue
		}
		connz, err := s.ns.Connz(&server.ConnzOptions{Username: true, Limit: 1 << 16})
		if err != nil {
			continue
		}
		for _, c := range connz.Conns {
			if len(c.TLSPeerCerts) == 0 || !expired[c.TLSPeerCerts[0].CertSha256] {
				continue
			}
			if log != nil {
				log.Warn("closing a connection whose client SVID expired", "cid", c.Cid, "user", c.AuthorizedUser)
			}
			_ = s.ns.DisconnectClientByID(c.Cid)
		}
	}
}

// slogAdapter writes nats-server logs to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
