// Package controlplane keeps the served snapshots in step with edge/routes.yaml and the
// endpoint registry: it reloads the routes file when it changes, rebuilds both snapshots on
// every change of policy or endpoints, and publishes them only when they are valid. An
// invalid routes file or snapshot keeps the last good one and is reported (log, readiness,
// metrics) until fixed.
package controlplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/xds/internal/ads"
	"mercato.dev/xds/internal/policy"
	"mercato.dev/xds/internal/registry"
	"mercato.dev/xds/internal/snapshot"
)

// Publisher serves snapshots to the xDS clients of a kind.
type Publisher interface {
	SetSnapshot(ctx context.Context, kind ads.Kind, snap *cache.Snapshot) error
}

// Options configure a Plane.
type Options struct {
	RoutesFile string         // edge/routes.yaml
	Policy     policy.Options // how relative paths in it resolve
	Logger     *slog.Logger
	Metrics    *Metrics
	Poll       time.Duration // backstop check of the routes file [1s; 200ms without fsnotify]
	// RemovalGrace is how long the edge keeps clusters that a change removes, after the routes
	// that used them are gone [2s].
	RemovalGrace time.Duration
}

// Plane is the control plane's state: the last good policy and snapshots.
type Plane struct {
	opts     Options
	registry *registry.Registry
	pub      Publisher
	logger   *slog.Logger
	metrics  *Metrics

	mu          sync.Mutex
	policy      *policy.Policy // last good
	fileHash    [sha256.Size]byte
	routesErr   error // the routes file's current problem, nil when it is the applied one
	snapshotErr error // the last snapshot build's problem
	versions    map[ads.Kind]string
	served      map[ads.Kind]*cache.Snapshot
	bridgeUntil time.Time     // while a bridge snapshot is served: when the final one follows
	wake        chan struct{} // rebuild now (the bridge's time is up)
}

// New loads the routes file and publishes the first snapshots; an invalid file is an error
// (there is no last good configuration to keep).
func New(ctx context.Context, reg *registry.Registry, pub Publisher, opts Options) (*Plane, error) {
	p := &Plane{
		opts: opts, registry: reg, pub: pub, logger: opts.Logger, metrics: opts.Metrics,
		versions: map[ads.Kind]string{}, served: map[ads.Kind]*cache.Snapshot{}, wake: make(chan struct{}, 1),
	}
	if p.opts.RemovalGrace <= 0 {
		p.opts.RemovalGrace = 2 * time.Second
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.metrics == nil {
		p.metrics = NewMetrics(nil)
	}
	if err := p.Reload(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Policy is the policy being served.
func (p *Plane) Policy() *policy.Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.policy
}

// ClusterOwner returns the SPIFFE ID of a declared cluster: the only caller that may register
// its endpoints.
func (p *Plane) ClusterOwner(cluster string) (spiffeid.ID, bool) {
	c, ok := p.Policy().Clusters[cluster]
	if !ok {
		return spiffeid.ID{}, false
	}
	id, err := spiffeid.FromString(c.SPIFFEID)
	return id, err == nil
}

// RoutesError is the routes file's current problem: nil when the file on disk is served.
func (p *Plane) RoutesError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.routesErr
}

// SnapshotError is the last snapshot build's problem, nil when the last build was served.
func (p *Plane) SnapshotError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshotErr
}

// Versions returns the served version of each kind.
func (p *Plane) Versions() map[ads.Kind]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return map[ads.Kind]string{ads.Edge: p.versions[ads.Edge], ads.Proxyless: p.versions[ads.Proxyless]}
}

// Reload reads the routes file; when its content changed, it parses it and, if valid and its
// snapshots build, serves it. Otherwise the last good policy stays and the problem is kept
// for RoutesError.
func (p *Plane) Reload(ctx context.Context) error {
	data, err := os.ReadFile(p.opts.RoutesFile)
	if err != nil {
		return p.rejectRoutes(fmt.Errorf("read routes: %w", err))
	}
	sum := sha256.Sum256(data)
	p.mu.Lock()
	unchanged := p.policy != nil && bytes.Equal(sum[:], p.fileHash[:])
	p.mu.Unlock()
	if unchanged {
		return nil
	}
	pol, err := policy.Parse(data, p.opts.Policy)
	if err != nil {
		if errs, ok := err.(*policy.Errors); ok {
			errs.File = p.opts.RoutesFile
		}
		p.remember(sum)
		return p.rejectRoutes(err)
	}
	set, err := p.build(pol)
	if err != nil {
		p.remember(sum)
		return p.rejectRoutes(fmt.Errorf("%s: valid, but its snapshot is not: %w", p.opts.RoutesFile, err))
	}
	if err := p.publish(ctx, set); err != nil {
		return err
	}
	p.mu.Lock()
	p.policy, p.fileHash, p.routesErr = pol, sum, nil
	p.mu.Unlock()
	p.metrics.routesValid.Set(1)
	p.metrics.reloads.WithLabelValues("applied").Inc()
	p.logger.Info("routes applied", "file", p.opts.RoutesFile, "routes", len(pol.Routes), "clusters", len(pol.Clusters))
	return nil
}

// remember marks a rejected file content as seen, so it is not parsed (and logged) again.
func (p *Plane) remember(sum [sha256.Size]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.policy != nil {
		p.fileHash = sum
	}
}

// rejectRoutes records the routes file's problem; it is logged and counted once per distinct
// problem, not on every check of an unchanged file.
func (p *Plane) rejectRoutes(err error) error {
	p.mu.Lock()
	repeated := p.routesErr != nil && p.routesErr.Error() == err.Error()
	p.routesErr = err
	p.mu.Unlock()
	p.metrics.routesValid.Set(0)
	if !repeated {
		p.metrics.reloads.WithLabelValues("rejected").Inc()
		p.logger.Error("routes rejected; serving the last good configuration", "file", p.opts.RoutesFile, "error", err.Error())
	}
	return err
}

// Rebuild rebuilds the snapshots from the served policy and the registry's endpoints, and
// serves them if they are valid.
func (p *Plane) Rebuild(ctx context.Context) error {
	set, err := p.build(p.Policy())
	if err != nil {
		p.logger.Error("snapshot rejected; serving the last good one", "error", err.Error())
		return err
	}
	return p.publish(ctx, set)
}

func (p *Plane) build(pol *policy.Policy) (snapshot.Set, error) {
	start := time.Now()
	eps := p.endpoints()
	set, err := snapshot.Build(pol, eps)
	p.metrics.buildSeconds.Observe(time.Since(start).Seconds())
	p.mu.Lock()
	p.snapshotErr = err
	p.mu.Unlock()
	if err != nil {
		p.metrics.buildErrors.Inc()
	}
	return set, err
}

func (p *Plane) endpoints() snapshot.Endpoints {
	out := snapshot.Endpoints{}
	p.metrics.endpoints.Reset()
	for cluster, insts := range p.registry.Instances() {
		for _, in := range insts {
			out[cluster] = append(out[cluster], snapshot.Endpoint{Address: in.Address, Port: in.Port, Hostname: in.Host})
		}
		p.metrics.endpoints.WithLabelValues(cluster).Set(float64(len(insts)))
	}
	return out
}

// publish serves each snapshot whose version differs from the one served. When the edge's
// next snapshot drops clusters, a bridge snapshot goes first (see snapshot.Bridge).
func (p *Plane) publish(ctx context.Context, set snapshot.Set) error {
	edge, err := p.bridge(set.Edge)
	if err != nil {
		return err
	}
	for kind, snap := range map[ads.Kind]*cache.Snapshot{ads.Edge: edge, ads.Proxyless: set.Proxyless} {
		version := snapshot.Version(snap)
		p.mu.Lock()
		same := p.versions[kind] == version
		p.mu.Unlock()
		if same {
			continue
		}
		if err := p.pub.SetSnapshot(ctx, kind, snap); err != nil {
			return err
		}
		p.mu.Lock()
		p.versions[kind], p.served[kind] = version, snap
		p.mu.Unlock()
		p.metrics.applied(kind, version)
		p.logger.Info("snapshot served", "kind", string(kind), "version", version)
	}
	return nil
}

// bridge returns the edge snapshot to serve now instead of next: a bridge keeping the
// clusters next drops, until RemovalGrace has passed since the drop was first seen.
func (p *Plane) bridge(next *cache.Snapshot) (*cache.Snapshot, error) {
	p.mu.Lock()
	served, until := p.served[ads.Edge], p.bridgeUntil
	p.mu.Unlock()
	bridge, ok, err := snapshot.Bridge(served, next)
	if err != nil {
		return nil, fmt.Errorf("bridge snapshot: %w", err)
	}
	now := time.Now()
	if !ok || (!until.IsZero() && !now.Before(until)) {
		p.mu.Lock()
		p.bridgeUntil = time.Time{}
		p.mu.Unlock()
		return next, nil
	}
	if until.IsZero() {
		until = now.Add(p.opts.RemovalGrace)
		p.mu.Lock()
		p.bridgeUntil = until
		p.mu.Unlock()
		time.AfterFunc(p.opts.RemovalGrace, func() {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		})
		p.logger.Info("clusters removed: routes go first, clusters follow", "after", p.opts.RemovalGrace.String())
	}
	return bridge, nil
}

// Sweep expires silent endpoints (the registry then signals the change).
func (p *Plane) Sweep() {
	for _, in := range p.registry.Sweep() {
		p.logger.Info("endpoint expired", "cluster", in.Cluster, "instance", in.ID, "silent_for", time.Since(in.LastSeen).Round(time.Millisecond).String())
	}
}

// Run keeps the snapshots current until ctx ends: it reloads the routes file on change,
// rebuilds on registry changes and sweeps expired endpoints.
func (p *Plane) Run(ctx context.Context) error {
	fileChanged := p.watch(ctx)
	sweep := time.NewTicker(min(max(p.registry.TTL()/10, 50*time.Millisecond), time.Second))
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fileChanged:
			_ = p.Reload(ctx) // a problem is logged and kept for readiness
		case <-p.registry.Changed():
			_ = p.Rebuild(ctx)
		case <-p.wake:
			_ = p.Rebuild(ctx)
		case <-sweep.C:
			p.Sweep()
		}
	}
}
