// Package app wires the control plane process: the SVID from the Workload API, the endpoint
// registry and its registration API (a kit server, mTLS), the routes file and snapshot
// builder, the ADS server, and the admin listener (/healthz, /readyz, /metrics).
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/sync/errgroup"

	"mercato.dev/proto/gen/go/mercato/xds/v1/xdsv1connect"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"
	"mercato.dev/services/kit/telemetry"

	"mercato.dev/xds/internal/ads"
	"mercato.dev/xds/internal/controlplane"
	"mercato.dev/xds/internal/policy"
	"mercato.dev/xds/internal/registration"
	"mercato.dev/xds/internal/registry"
)

// App is a control plane, listening and ready to serve.
type App struct {
	Plane    *controlplane.Plane
	Registry *registry.Registry
	ADS      *ads.Server

	srv    *server.Server
	adsLn  net.Listener
	warmUp time.Duration
	logger *slog.Logger
}

// Main runs the control plane until ctx ends and returns the process exit code.
func Main(ctx context.Context, args []string, getenv config.Getenv, stderr io.Writer) int {
	cfg, err := LoadConfig(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "xds: configuration: %v\n", err)
		return 2
	}
	logger := telemetry.NewLogger(stderr, "xds", cfg.LogLevel)
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("exiting", "error", err.Error())
		return 1
	}
	return 0
}

func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	src, err := identity.Open(ctx, cfg.WorkloadAPI, identity.XDS)
	if err != nil {
		return err
	}
	defer src.Close()
	a, err := New(ctx, cfg, src, logger)
	if err != nil {
		return err
	}
	return a.Serve(ctx)
}

// New loads the routes file (an invalid one is an error), builds the first snapshots and binds
// every listener.
func New(ctx context.Context, cfg Config, src identity.Source, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = telemetry.Discard()
	}
	metrics := telemetry.NewMetrics()
	metrics.BuildInfo("xds")
	metrics.WatchSVID(src)
	a := &App{
		warmUp:   cfg.WarmUp,
		logger:   logger,
		Registry: registry.New(cfg.EndpointTTL),
		ADS:      ads.New(src, ads.Options{Logger: logger, Registerer: metrics.Registry}),
	}
	var err error
	a.Plane, err = controlplane.New(ctx, a.Registry, a.ADS, controlplane.Options{
		RoutesFile:   cfg.RoutesFile,
		Policy:       policy.Options{BaseDir: config.Or(cfg.EdgeDataDir, cfg.DataDir), ListenerAddress: cfg.PublicAddr, CORSOrigins: cfg.CORSOrigins},
		Logger:       logger,
		Metrics:      controlplane.NewMetrics(metrics.Registry),
		RemovalGrace: cfg.RemovalGrace,
	})
	if err != nil {
		return nil, err
	}
	a.srv, err = server.New(server.Options{
		Name: "xds", Addr: cfg.RegistrationAddr, AdminAddr: cfg.AdminAddr, Source: src,
		Logger: logger, Metrics: metrics, DrainTimeout: cfg.DrainTimeout,
	})
	if err != nil {
		return nil, err
	}
	handler := registration.New(a.Registry, a.Plane.ClusterOwner, nil, logger)
	path, h := xdsv1connect.NewRegistrationServiceHandler(handler, a.srv.HandlerOptions()...)
	a.srv.Handle(path, h, registration.Rules(registrants(a.Plane.Policy())))
	a.srv.CheckReady("routes", func(context.Context) error { return a.Plane.RoutesError() })
	a.srv.CheckReady("snapshot", func(context.Context) error { return a.Plane.SnapshotError() })
	if err := a.srv.Listen(); err != nil {
		return nil, err
	}
	if a.adsLn, err = net.Listen("tcp", cfg.ADSAddr); err != nil {
		return nil, fmt.Errorf("listen ADS %s: %w", cfg.ADSAddr, err)
	}
	return a, nil
}

// registrants are the identities the registration API lets in: every Mercato service, and
// every cluster's SPIFFE ID in the routes file at start-up.
func registrants(p *policy.Policy) []spiffeid.ID {
	var ids []spiffeid.ID
	for _, name := range config.Services {
		ids = append(ids, identity.Service(name))
	}
	for _, name := range p.ClusterNames() {
		if id, err := spiffeid.FromString(p.Clusters[name].SPIFFEID); err == nil && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// ADSAddr, RegistrationAddr and AdminAddr are the bound addresses.
func (a *App) ADSAddr() string          { return a.adsLn.Addr().String() }
func (a *App) RegistrationAddr() string { return a.srv.Addr() }
func (a *App) AdminAddr() string        { return a.srv.AdminAddr() }

// Serve runs until ctx ends, then stops serving ADS and registration gracefully.
func (a *App) Serve(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Plane.Run(gctx) })
	g.Go(func() error {
		if a.warmUp > 0 {
			// A restarted control plane has an empty registry: serving EDS now would empty
			// every cluster of a connected edge, which keeps its configuration while ADS is
			// away. Services re-register at their next heartbeat; connections wait meanwhile.
			a.logger.Info("ADS starts after the registration warm-up", "warm_up", a.warmUp.String())
			select {
			case <-gctx.Done():
				_ = a.adsLn.Close()
				return nil
			case <-time.After(a.warmUp):
			}
		}
		return a.ADS.Serve(gctx, a.adsLn)
	})
	g.Go(func() error { return a.srv.Serve(gctx) })
	return g.Wait()
}
