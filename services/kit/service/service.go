// Package service is the whole life of a Mercato service process: configuration from the
// environment, structured logs, tracing, the SVID from the Workload API, the mTLS server and its
// admin listener, the database, dependencies, background loops and graceful shutdown. A service's
// main is one line:
//
//	func main() { os.Exit(service.Main("orders", setup)) }
//
// and setup registers the service's handlers, readiness checks and loops on the Runtime.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"golang.org/x/sync/errgroup"

	"mercato.dev/ent/database"
	"mercato.dev/services/kit/client"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/debug"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/registration"
	"mercato.dev/services/kit/server"
	"mercato.dev/services/kit/telemetry"
)

// Setup registers a service's parts on rt. It runs once, before serving starts.
type Setup func(ctx context.Context, rt *Runtime) error

// Runtime is what setup builds a service from.
type Runtime struct {
	Config  config.Service
	Getenv  config.Getenv
	Logger  *slog.Logger
	Source  *workloadapi.X509Source
	Server  *server.Server
	Clients *client.Factory
	Metrics *telemetry.Metrics

	mu      sync.Mutex
	loops   []func(context.Context) error
	closers []func() error
	broker  *broker
}

// Main runs the named service until SIGINT or SIGTERM and returns the process exit code.
//
// Its records go to stderr as JSON (telemetry.NewLogger). The per-RPC access lines are
// hand-encoded and buffered (telemetry.Buffered, see WithAccessLog): they reach stderr every
// telemetry.FlushInterval or 64 KiB, and all of them before Main returns; a crash can lose the
// last 100 ms (at most 64 KiB) of access lines. Every other record is written at once.
func Main(name string, setup Setup) int {
	config.TuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(name, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", name, err)
		return 2
	}
	logger := telemetry.NewLogger(os.Stderr, name, cfg.LogLevel)
	access := telemetry.NewBuffered(os.Stderr, telemetry.FlushInterval)
	err = func() error {
		defer func() { _ = access.Close() }() // the access lines first, then the exit's record
		return Run(ctx, cfg, os.Getenv, logger, setup, WithAccessLog(access))
	}()
	if err != nil {
		logger.Error("exiting", "error", err.Error())
		return 1
	}
	return 0
}

// Option tunes Run.
type Option func(*runOptions)

type runOptions struct {
	accessLog io.Writer
}

// WithAccessLog sends the server's per-RPC access lines to w, hand-encoded, instead of through
// the logger (see server.Options.AccessLog): the same lines, if the logger comes from
// telemetry.NewLogger with the service's name, at a fraction of the cost. The logger's level
// still decides whether they are written. w takes whole lines from concurrent callers; Main
// passes a telemetry.Buffered on stderr and closes it when Run returns. Without this option the
// access lines go through the logger.
func WithAccessLog(w io.Writer) Option { return func(o *runOptions) { o.accessLog = w } }

// Run is Main with its inputs explicit, for tests and tools.
func Run(ctx context.Context, cfg config.Service, getenv config.Getenv, logger *slog.Logger, setup Setup, opts ...Option) error {
	var o runOptions
	for _, f := range opts {
		f(&o)
	}
	tracing, err := telemetry.SetupTracing(ctx, cfg.Name, identity.Service(cfg.Name).String(), telemetry.Getenv(getenv))
	if err != nil {
		return err
	}
	defer func() {
		if err := tracing.Shutdown(context.WithoutCancel(ctx)); err != nil {
			logger.Warn("flush spans", "error", err.Error())
		}
	}()
	if tracing.Exporting {
		logger.Info("exporting spans over OTLP", "sampler", config.Or(getenv("OTEL_TRACES_SAMPLER"), "parentbased_always_on"))
	}

	rt, err := newRuntime(ctx, cfg, getenv, logger, o)
	if err != nil {
		return err
	}
	defer rt.close()
	if cfg.DebugAddr != "" {
		go func() {
			if err := debug.Serve(ctx, cfg.DebugAddr, logger); err != nil {
				logger.Warn("debug listener", "addr", cfg.DebugAddr, "error", err.Error())
			}
		}()
	}
	if err := setup(ctx, rt); err != nil {
		return fmt.Errorf("set up %s: %w", cfg.Name, err)
	}
	return rt.serve(ctx)
}

func newRuntime(ctx context.Context, cfg config.Service, getenv config.Getenv, logger *slog.Logger, o runOptions) (*Runtime, error) {
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	src, err := identity.Open(openCtx, cfg.WorkloadAPI, identity.Service(cfg.Name))
	if err != nil {
		return nil, err
	}
	metrics := telemetry.NewMetrics()
	metrics.BuildInfo(cfg.Name)
	metrics.WatchSVID(src)
	srv, err := server.New(server.Options{
		Name: cfg.Name, Addr: cfg.Addr, AdminAddr: cfg.AdminAddr, Source: src,
		Logger: logger, AccessLog: o.accessLog, Metrics: metrics, DrainTimeout: cfg.DrainTimeout,
	})
	if err != nil {
		_ = src.Close()
		return nil, err
	}
	rt := &Runtime{
		Config: cfg, Getenv: getenv, Logger: logger, Source: src, Server: srv, Metrics: metrics,
		Clients: client.NewFactory(src, logger, metrics.Registry),
	}
	rt.OnClose(src.Close)
	logger.Info("identity loaded", "spiffe_id", identity.Service(cfg.Name).String(), "workload_api", cfg.WorkloadAPI)
	return rt, nil
}

// OpenDatabase opens the service's database (Config.DatabaseURL), applies its migrations, adds
// a "database" readiness check and closes it at exit.
func (rt *Runtime) OpenDatabase(ctx context.Context, migrations database.Migrations) (*database.DB, error) {
	db, err := database.Open(ctx, rt.Config.DatabaseURL, migrations, database.WithLogger(rt.Logger))
	if err != nil {
		return nil, err
	}
	rt.Server.CheckReady("database", func(ctx context.Context) error { return db.SQL().PingContext(ctx) })
	rt.OnClose(db.Close)
	return db, nil
}

// Dependency connects to a peer service at <PEER>_ADDR, expecting its SPIFFE ID.
func (rt *Runtime) Dependency(peer string, tune ...func(*client.Dependency)) (*client.Conn, error) {
	dep := client.Dependency{Name: peer, Addr: config.PeerAddr(peer, rt.Getenv), ID: identity.Service(peer)}
	for _, f := range tune {
		f(&dep)
	}
	return rt.Clients.Connect(dep)
}

// Go runs loop for the life of the process (a relay, a recovery loop, a consumer). The context
// it gets ends at shutdown, after the server has stopped taking calls; a loop that returns an
// error stops the process.
func (rt *Runtime) Go(loop func(ctx context.Context) error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.loops = append(rt.loops, loop)
}

// OnClose runs f at exit, in reverse order of registration.
func (rt *Runtime) OnClose(f func() error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.closers = append(rt.closers, f)
}

func (rt *Runtime) serve(ctx context.Context) error {
	if err := rt.Server.Listen(); err != nil {
		return err
	}
	deregister, err := rt.register()
	if err != nil {
		return err
	}
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	g, gctx := errgroup.WithContext(loopCtx)
	for _, loop := range rt.loops {
		g.Go(func() error { return loop(gctx) })
	}
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	go func() {
		select {
		case <-ctx.Done(): // SIGTERM: leave the edge's routing before closing the listener
			rt.Server.BeginDrain()
			if deregister() {
				time.Sleep(rt.Config.DeregisterGrace)
			}
		case <-gctx.Done(): // a failed loop stops the server too
			deregister()
		}
		stopServing()
	}()
	err = rt.Server.Serve(serveCtx)
	stopLoops()
	loopErr := g.Wait()
	if errors.Is(loopErr, context.Canceled) {
		loopErr = nil
	}
	return errors.Join(err, loopErr)
}

// register keeps this instance's endpoint registered with the xDS control plane (best-effort:
// the service serves whether or not the control plane answers), so the edge routes to it. The
// returned func deregisters (waiting up to 3 s) and reports whether the instance was registered
// with a control plane at all.
func (rt *Runtime) register() (deregister func() bool, err error) {
	if rt.Config.XDSAddr == "" {
		return func() bool { return false }, nil
	}
	host, port, err := net.SplitHostPort(rt.Server.Addr())
	if err != nil {
		return nil, err
	}
	if rt.Config.AdvertiseHost != "" {
		host = rt.Config.AdvertiseHost
	}
	conn, err := rt.Clients.Connect(client.Dependency{Name: "xds", Addr: rt.Config.XDSAddr, ID: identity.XDS})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = registration.Run(ctx, conn, rt.Config.Name, host, port, rt.Logger)
	}()
	var once sync.Once
	return func() bool {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				rt.Logger.Warn("xds deregistration did not finish in 3s; the endpoint expires after its TTL")
			}
		})
		return true
	}, nil
}

func (rt *Runtime) close() {
	for i := len(rt.closers) - 1; i >= 0; i-- {
		if err := rt.closers[i](); err != nil {
			rt.Logger.Warn("close", "error", err.Error())
		}
	}
}
