// Package devedge is the dev edge: a Go stand-in for Envoy on machines without it. It subscribes
// to the control plane over ADS (mTLS with its own SVID, node "edge", the control plane's SPIFFE
// ID verified), builds each new xDS version into a complete configuration — listeners, routes,
// filters, clusters, endpoints — and swaps it in at once, ACKing it; a version it cannot apply
// is NACKed with the reason while the previous one keeps serving. It learns everything from
// xDS. Its admin listener serves /healthz, /readyz, /metrics, /clusters and /config_dump.
package devedge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/anypb"

	"mercato.dev/edge/internal/accesslog"
	"mercato.dev/edge/internal/hcm"
	"mercato.dev/edge/internal/jwt"
	"mercato.dev/edge/internal/listener"
	"mercato.dev/edge/internal/route"
	"mercato.dev/edge/internal/upstream"
	"mercato.dev/edge/internal/xdsclient"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

// Options configure an Edge. Zero values take the defaults in brackets.
type Options struct {
	Source       identity.Source   // the edge's SVID and trust bundle (required)
	XDSAddr      string            // the control plane's ADS address [127.0.0.1:18000]
	XDSID        spiffeid.ID       // the SPIFFE ID the control plane must present [spiffe://mercato.local/xds]
	NodeID       string            // [edge]
	AdminAddr    string            // health, readiness, metrics [127.0.0.1:9900]
	Logger       *slog.Logger      // [discard]
	AccessLog    *accesslog.Logger // the access lines [through Logger, at info level]
	Metrics      *telemetry.Metrics
	DrainTimeout time.Duration // how long shutdown waits for in-flight requests [20s]
}

func (o *Options) setDefaults() {
	if o.XDSAddr == "" {
		o.XDSAddr = "127.0.0.1:18000"
	}
	if o.XDSID.IsZero() {
		o.XDSID = identity.XDS
	}
	if o.NodeID == "" {
		o.NodeID = "edge"
	}
	if o.AdminAddr == "" {
		o.AdminAddr = "127.0.0.1:9900"
	}
	if o.Logger == nil {
		o.Logger = telemetry.Discard()
	}
	if o.Metrics == nil {
		o.Metrics = telemetry.NewMetrics()
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 20 * time.Second
	}
}

// Edge is the dev edge.
type Edge struct {
	opts      Options
	metrics   *metrics
	upstreams *upstream.Manager
	keys      *jwt.Keys
	listeners *listener.Set
	current   atomic.Pointer[config]
	draining  atomic.Bool

	mu  sync.Mutex // serialises updates
	res resources

	adminLn net.Listener
}

// config is one applied xDS version: what requests are served with.
type config struct {
	managers map[string]*hcm.Manager // by listener name
	clusters map[string]*upstream.Cluster
	res      resources
}

// New returns an edge that serves nothing until Run has received a configuration.
func New(opts Options) (*Edge, error) {
	opts.setDefaults()
	if opts.Source == nil {
		return nil, errors.New("devedge: Source is required")
	}
	e := &Edge{opts: opts, metrics: newMetrics(opts.Metrics), res: newResources()}
	e.upstreams = upstream.NewManager(identity.Fresh(opts.Source), e.metrics)
	e.keys = jwt.NewKeys(jwksFetcher{e})
	e.listeners = listener.NewSet(e.handler, opts.Logger)
	return e, nil
}

// Listen binds the admin listener, so that its address is known before Run.
func (e *Edge) Listen() error {
	if e.adminLn != nil {
		return nil
	}
	ln, err := net.Listen("tcp", e.opts.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen admin %s: %w", e.opts.AdminAddr, err)
	}
	e.adminLn = ln
	return nil
}

// AdminAddr is the bound admin address (after Listen).
func (e *Edge) AdminAddr() string { return e.adminLn.Addr().String() }

// ListenerAddr is the bound address of the named public listener, "" when it is not serving.
func (e *Edge) ListenerAddr(name string) string { return e.listeners.Addr(name) }

// Run subscribes to the control plane and serves until ctx ends, then stops accepting and waits
// up to DrainTimeout for in-flight requests.
func (e *Edge) Run(ctx context.Context) error {
	if err := e.Listen(); err != nil {
		return err
	}
	creds := credentials.NewTLS(identity.ClientTLS(identity.Fresh(e.opts.Source), e.opts.XDSID))
	conn, err := grpc.NewClient(e.opts.XDSAddr, grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}))
	if err != nil {
		return fmt.Errorf("control plane %s: %w", e.opts.XDSAddr, err)
	}
	defer conn.Close()
	client := xdsclient.New(conn, e, xdsclient.Options{
		Node:    &corev3.Node{Id: e.opts.NodeID, Cluster: "edge", UserAgentName: "mercato-dev-edge"},
		Logger:  e.opts.Logger,
		Observe: func(typeURL, _ string, err error) { e.metrics.update(typeURL, err) },
	})
	admin := &http.Server{Handler: e.adminMux(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- admin.Serve(e.adminLn) }()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { errc <- client.Run(runCtx) }()
	e.opts.Logger.Info("dev edge started", "xds", e.opts.XDSAddr, "admin", e.AdminAddr(), "node", e.opts.NodeID)

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	e.draining.Store(true)
	stop()
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.DrainTimeout)
	defer cancel()
	drainErr := e.listeners.Shutdown(drainCtx)
	e.upstreams.Close()
	_ = admin.Shutdown(drainCtx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, drainErr)
}

// handler is the manager of the named listener in the configuration now in force.
func (e *Edge) handler(name string) http.Handler {
	if cfg := e.current.Load(); cfg != nil {
		if m := cfg.managers[name]; m != nil {
			return m
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "listener draining", http.StatusServiceUnavailable)
	})
}

var _ xdsclient.Watcher = (*Edge)(nil)

// Update builds the configuration that results from replacing every resource of typeURL, and
// swaps it in whole; an error (NACK) leaves the configuration in force untouched.
func (e *Edge) Update(typeURL, version string, msgs []*anypb.Any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next, err := e.res.with(typeURL, version, msgs)
	if err != nil {
		return err
	}
	cfg, specs, err := e.build(next)
	if err != nil {
		return err
	}
	commit, err := e.listeners.Prepare(specs)
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	e.current.Store(cfg)
	commit()
	e.upstreams.Commit(cfg.clusters)
	e.res = next
	return nil
}

// Names lists the EDS and RDS resources the accepted configuration needs.
func (e *Edge) Names(typeURL string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch typeURL {
	case resourcev3.EndpointType:
		return e.res.edsNames()
	case resourcev3.RouteType:
		return e.res.rdsNames()
	}
	return nil
}

// build compiles res. Listeners whose route configuration has not arrived are left out (warming).
func (e *Edge) build(res resources) (*config, map[string]*listener.Spec, error) {
	settings := make(map[string]*upstream.Settings, len(res.clusters))
	for name, c := range res.clusters {
		s, err := upstream.ParseCluster(c)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster %s: %w", name, err)
		}
		settings[name] = s
	}
	endpoints := make(map[string][]upstream.Endpoint, len(res.endpoints))
	for name, cla := range res.endpoints {
		eps, err := upstream.ParseLoadAssignment(cla)
		if err != nil {
			return nil, nil, fmt.Errorf("endpoints %s: %w", name, err)
		}
		endpoints[name] = eps
	}
	routes := make(map[string]*route.Table, len(res.routes))
	for name, rc := range res.routes {
		t, err := route.New(rc)
		if err != nil {
			return nil, nil, fmt.Errorf("route configuration %s: %w", name, err)
		}
		routes[name] = t
	}
	cfg := &config{managers: map[string]*hcm.Manager{}, clusters: e.upstreams.Build(settings, endpoints), res: res}
	specs := map[string]*listener.Spec{}
	for name, l := range res.listeners {
		if listener.IsAPIListener(l) {
			continue // a proxyless gRPC listener: not the edge's
		}
		spec, err := listener.Parse(l, hcm.Options{Routes: routes, Clusters: cfg.clusters, Keys: e.keys, Logger: e.opts.Logger, AccessLog: e.opts.AccessLog, Observer: e.metrics})
		if errors.Is(err, hcm.ErrWarming) {
			e.opts.Logger.Info("listener warming: waiting for its route configuration", "listener", name)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("listener %s: %w", name, err)
		}
		specs[name] = spec
		cfg.managers[name] = spec.Manager
	}
	return cfg, specs, nil
}

// Ready reports why the edge cannot serve: no valid SVID, no configuration, a listener down.
func (e *Edge) Ready() error {
	if e.draining.Load() {
		return errors.New("shutting down")
	}
	if err := identity.CheckSVID(e.opts.Source, time.Now()); err != nil {
		return err
	}
	cfg := e.current.Load()
	if cfg == nil || len(cfg.managers) == 0 {
		return errors.New("no listener configuration received from the control plane yet")
	}
	names := make([]string, 0, len(cfg.managers))
	for n := range cfg.managers {
		names = append(names, n)
	}
	slices.Sort(names)
	return e.listeners.Check(names)
}
