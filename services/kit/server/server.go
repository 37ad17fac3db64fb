// Package server runs a Mercato service: Connect handlers (Connect JSON and binary, gRPC,
// gRPC-Web over HTTP/2 and HTTP/1.1) on an mTLS listener whose certificates come from the
// Workload API, and a plain-HTTP admin listener with /healthz, /readyz and /metrics that serves
// no RPC. Every handler is registered with its authorization rules; the default is deny.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/compress"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

// Options configure a Server. Zero values take the defaults in brackets.
//
// AccessLog, when set, receives the one-line-per-RPC access records (at info level, as Logger's
// level allows) without going through Logger: each is encoded by hand, byte for byte the line
// Logger would write if it is telemetry.NewLogger(…, Name, …), and given to AccessLog in one
// Write of a whole line; AccessLog must take lines from concurrent callers. service.Main passes
// a telemetry.Buffered on stderr: a crash can lose up to telemetry.FlushInterval (100 ms), at
// most 64 KiB, of access lines; every other record goes through Logger, unbuffered.
type Options struct {
	Name         string          // service name, used in logs and the admin pages (required)
	Addr         string          // mTLS RPC listener, host:port (required; port 0 picks one)
	AdminAddr    string          // plain-HTTP admin listener, host:port (required)
	Source       identity.Source // this process's SVID and trust bundle (required)
	TrustDomain  spiffeid.TrustDomain
	ClaimsFrom   spiffeid.ID  // the only caller whose forwarded end-user claims count [identity.Edge]
	Logger       *slog.Logger // [discard]
	AccessLog    io.Writer    // the per-RPC access lines, hand-encoded [nil: through Logger]
	Metrics      *telemetry.Metrics
	ReadMaxBytes int           // largest accepted request message [4 MiB]
	Timeout      time.Duration // deadline of a call that sets none [10s]
	MaxTimeout   time.Duration // longest deadline a caller may ask for [60s]
	DrainTimeout time.Duration // how long shutdown waits for in-flight calls [20s]
}

func (o *Options) setDefaults() {
	if o.TrustDomain.IsZero() {
		o.TrustDomain = identity.TrustDomain
	}
	if o.ClaimsFrom.IsZero() {
		o.ClaimsFrom = identity.Edge
	}
	if o.Logger == nil {
		o.Logger = telemetry.Discard()
	}
	if o.Metrics == nil {
		o.Metrics = telemetry.NewMetrics()
	}
	o.ReadMaxBytes = cmpOr(o.ReadMaxBytes, 4<<20)
	o.Timeout = cmpOr(o.Timeout, 10*time.Second)
	o.MaxTimeout = cmpOr(o.MaxTimeout, 60*time.Second)
	o.DrainTimeout = cmpOr(o.DrainTimeout, 20*time.Second)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Validate reports the first missing or inconsistent option.
func (o Options) Validate() error {
	switch {
	case o.Name == "":
		return errors.New("server: Name is required")
	case o.Addr == "" || o.AdminAddr == "":
		return errors.New("server: Addr and AdminAddr are required")
	case o.Source == nil:
		return errors.New("server: Source is required")
	case o.Timeout > o.MaxTimeout:
		return fmt.Errorf("server: Timeout %s exceeds MaxTimeout %s", o.Timeout, o.MaxTimeout)
	}
	return nil
}

// Server is one service process's RPC and admin endpoints.
type Server struct {
	opts   Options
	policy *authz.Policy
	mux    *http.ServeMux
	ready  *readiness

	rpcLn, adminLn net.Listener
	conns          *connTracker
	startOnce      sync.Once
	refuse         func(claims.Claims) error // see RefuseClaims
}

// New returns a server that serves nothing until handlers are registered with [Server.Handle].
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, policy: authz.NewPolicy(), mux: http.NewServeMux()}
	s.ready = newReadiness(opts.Logger)
	s.ready.Add("svid", func(context.Context) error { return identity.CheckSVID(opts.Source, time.Now()) }, false)
	s.registerHealth()
	return s, nil
}

// HandlerOptions are the options every Connect handler of this server is built with:
// protovalidate on every request, metrics and tracing, a request size limit that also bounds
// decompression, small responses left uncompressed, and panics recovered into internal errors.
func (s *Server) HandlerOptions(extra ...connect.HandlerOption) []connect.HandlerOption {
	opts := []connect.HandlerOption{
		connect.WithInterceptors(handlerInterceptors(s.opts.Metrics, accessLog(s.opts.Logger, s.opts.Name, s.opts.AccessLog))...),
		connect.WithReadMaxBytes(s.opts.ReadMaxBytes),
		connect.WithRecover(s.recoverPanic),
	}
	opts = append(opts, compress.HandlerOptions(s.opts.ReadMaxBytes)...)
	return append(opts, extra...)
}

// Handle mounts a handler (typically from a generated New…ServiceHandler) at path and declares
// who may call its procedures. Procedures under path without a rule are denied to everyone.
func (s *Server) Handle(path string, h http.Handler, rules authz.Rules) {
	if err := s.policy.Add(path, rules); err != nil {
		panic(err) // a programming error in the service's registration, caught by its first test
	}
	s.mux.Handle(path, h)
}

// RefuseClaims makes every call whose forwarded end-user claims check refuses answer
// unauthenticated before its handler runs (the deactivated customers, see package
// deactivation). Call it before Serve.
func (s *Server) RefuseClaims(check func(claims.Claims) error) { s.refuse = check }

// Policy is the server's authorization policy, for tests that enumerate it.
func (s *Server) Policy() *authz.Policy { return s.policy }

// CheckReady adds a readiness check; /readyz is green only when every check passes.
func (s *Server) CheckReady(name string, check func(context.Context) error) {
	s.ready.Add(name, check, false)
}

// ReportReady adds a check that /readyz shows but that never makes it fail: a dependency the
// process serves without (a producer's broker, whose events wait in the outbox meanwhile).
func (s *Server) ReportReady(name string, check func(context.Context) error) {
	s.ready.Add(name, check, true)
}

// BeginDrain turns readiness false for good, before shutdown stops the listener: load balancers
// and the edge stop sending new calls while in-flight and late ones are still served.
func (s *Server) BeginDrain() { s.ready.Drain() }

// Listen binds both listeners, so that their addresses are known before serving.
func (s *Server) Listen() error {
	var err error
	if s.rpcLn == nil {
		if s.rpcLn, err = net.Listen("tcp", s.opts.Addr); err != nil {
			return fmt.Errorf("listen %s: %w", s.opts.Addr, err)
		}
	}
	if s.adminLn == nil {
		if s.adminLn, err = net.Listen("tcp", s.opts.AdminAddr); err != nil {
			return fmt.Errorf("listen admin %s: %w", s.opts.AdminAddr, err)
		}
	}
	return nil
}

// Addr is the bound mTLS listener address; AdminAddr the admin one. Both need [Server.Listen].
func (s *Server) Addr() string      { return s.rpcLn.Addr().String() }
func (s *Server) AdminAddr() string { return s.adminLn.Addr().String() }

// Serve listens (if not yet) and serves until ctx is done, then turns unready, stops accepting,
// asks every connection to go away gracefully, and waits up to DrainTimeout for in-flight calls.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	handler := s.rpcHandler()
	admin := &http.Server{Handler: s.adminMux(), ReadHeaderTimeout: 5 * time.Second}
	s.conns = newConnTracker(s.opts, handler)
	errc := make(chan error, 2)
	go func() { errc <- s.conns.accept(s.rpcLn) }()
	go func() { errc <- admin.Serve(s.adminLn) }()
	s.opts.Logger.Info("serving", "addr", s.Addr(), "admin", s.AdminAddr(), "procedures", len(s.policy.Procedures()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.ready.Drain()
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.DrainTimeout)
	defer cancel()
	_ = s.rpcLn.Close()
	drainErr := s.conns.shutdown(drainCtx)
	_ = admin.Shutdown(drainCtx)
	s.opts.Logger.Info("stopped", "drain_error", drainErr)
	return errors.Join(ignoreClosed(err), drainErr)
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// rpcHandler is the chain every RPC goes through: authorization by SPIFFE ID (before anything
// else runs), end-user claims from the edge and the refusal of revoked ones, deadlines, malformed Connect GET messages refused,
// then the Connect handler.
func (s *Server) rpcHandler() http.Handler {
	var h http.Handler = s.mux
	h = checkConnectGet(h)
	h = withDeadline(s.opts.Timeout, s.opts.MaxTimeout, h)
	h = claims.Refuse(s.refuse, h)
	h = claims.Middleware(s.opts.ClaimsFrom, h)
	h = s.policy.Middleware(identity.Service(s.opts.Name).String(), s.opts.Logger, s.opts.Metrics.Refused, h)
	return withGrownStack(h)
}

func (s *Server) recoverPanic(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
	s.opts.Logger.ErrorContext(ctx, "handler panicked", "procedure", spec.Procedure, "panic", fmt.Sprint(p))
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// timeoutHeaders are the request headers in which Connect, gRPC and gRPC-Web carry a deadline.
var timeoutHeaders = []string{"Connect-Timeout-Ms", "Grpc-Timeout"}

// withDeadline gives a call without a deadline the default one and caps any deadline at max;
// connect applies the caller's own (shorter) timeout on top.
func withDeadline(def, max time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := max
		if !hasTimeoutHeader(r.Header) {
			d = def
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func hasTimeoutHeader(h http.Header) bool {
	for _, k := range timeoutHeaders {
		if strings.TrimSpace(h.Get(k)) != "" {
			return true
		}
	}
	return false
}
