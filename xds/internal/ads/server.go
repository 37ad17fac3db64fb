// Package ads serves the snapshots over the Aggregated Discovery Service (gRPC, mTLS with the
// control plane's SVID). Only SPIFFE IDs of the trust domain can connect; the node decides the
// snapshot (edge or proxyless) and only the edge's SPIFFE ID may receive the edge snapshot.
package ads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"mercato.dev/services/kit/identity"
)

// Options configure the ADS server. Zero values take the defaults in brackets.
type Options struct {
	TrustDomain      spiffeid.TrustDomain  // who may connect [mercato.local]
	EdgeID           spiffeid.ID           // the only peer that gets the edge snapshot [spiffe://mercato.local/edge]
	Logger           *slog.Logger          // [discard]
	Registerer       prometheus.Registerer // [none]
	MaxConnectionAge time.Duration         // connections are retired (GOAWAY) after this [10m]
}

// Server is the ADS endpoint and the snapshot cache behind it.
type Server struct {
	opts   Options
	caches map[Kind]cache.SnapshotCache
	guard  *guard
	creds  credentials.TransportCredentials
}

// New returns a server presenting src's SVID.
func New(src identity.Source, opts Options) *Server {
	if opts.TrustDomain.IsZero() {
		opts.TrustDomain = identity.TrustDomain
	}
	if opts.EdgeID.IsZero() {
		opts.EdgeID = identity.Edge
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.MaxConnectionAge == 0 {
		opts.MaxConnectionAge = 10 * time.Minute
	}
	log := logAdapter{opts.Logger}
	return &Server{
		opts: opts,
		caches: map[Kind]cache.SnapshotCache{
			// The edge's cache runs in go-control-plane's ADS mode: on a new snapshot it answers
			// clusters, endpoints, listeners, routes in that order, so new clusters arrive
			// before the routes that use them.
			Edge: cache.NewSnapshotCache(true, NodeHash{}, log),
			// ADS mode answers a request naming resources only when it names every resource of
			// that type, and a proxyless client asks for just its target's listener: not here.
			Proxyless: cache.NewSnapshotCache(false, NodeHash{}, log),
		},
		guard: newGuard(opts.EdgeID, opts.Logger, NewMetrics(opts.Registerer)),
		// go-spiffe's mTLS server config (AuthorizeMemberOf the trust domain) with session
		// tickets off: a resumed session would skip go-spiffe's peer verification.
		creds: credentials.NewTLS(identity.ServerTLS(src, opts.TrustDomain)),
	}
}

// SetSnapshot makes snap the snapshot of every node of kind; streams get it at once.
func (s *Server) SetSnapshot(ctx context.Context, kind Kind, snap *cache.Snapshot) error {
	c, ok := s.caches[kind]
	if !ok {
		return fmt.Errorf("no snapshots for node kind %q", kind)
	}
	if err := c.SetSnapshot(ctx, string(kind), snap); err != nil {
		return fmt.Errorf("set %s snapshot: %w", kind, err)
	}
	s.guard.publish(kind, snap.GetVersion(resource.ListenerType), time.Now())
	return nil
}

// Snapshot returns the current snapshot of kind.
func (s *Server) Snapshot(kind Kind) (*cache.Snapshot, error) {
	c, ok := s.caches[kind]
	if !ok {
		return nil, fmt.Errorf("no snapshots for node kind %q", kind)
	}
	snap, err := c.GetSnapshot(string(kind))
	if err != nil {
		return nil, err
	}
	cs, ok := snap.(*cache.Snapshot)
	if !ok {
		return nil, fmt.Errorf("unexpected snapshot type %T", snap)
	}
	return cs, nil
}

// Serve serves ADS on ln until ctx ends, then closes every stream and stops.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	mux := &cache.MuxCache{
		Classify:      func(r *cache.Request) string { return string(KindOf(r.GetNode())) },
		ClassifyDelta: func(r *cache.DeltaRequest) string { return string(KindOf(r.GetNode())) },
		Caches:        map[string]cache.Cache{string(Edge): s.caches[Edge], string(Proxyless): s.caches[Proxyless]},
	}
	xds := server.NewServer(streamCtx, mux, s.guard.callbacks())
	g := grpc.NewServer(
		grpc.Creds(s.creds),
		grpc.MaxConcurrentStreams(1000),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      s.opts.MaxConnectionAge, // before the SVIDs it was made with expire
			MaxConnectionAgeGrace: 10 * time.Second,
			Time:                  time.Minute,
			Timeout:               20 * time.Second,
		}),
		// Envoy pings its ADS connection every 30s (edge/envoy.yaml); allow that.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	discovery.RegisterAggregatedDiscoveryServiceServer(g, xds)
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(ln) }()
	s.opts.Logger.Info("serving ADS", "addr", ln.Addr().String())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel() // ends every ADS stream, so that GracefulStop need not wait for them
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		g.Stop()
	}
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// logAdapter sends go-control-plane's logs to slog, its chatter at debug level.
type logAdapter struct{ l *slog.Logger }

func (a logAdapter) Debugf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a logAdapter) Infof(format string, args ...any)  { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a logAdapter) Warnf(format string, args ...any)  { a.l.Warn(fmt.Sprintf(format, args...)) }
func (a logAdapter) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
