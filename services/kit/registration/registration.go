// Package registration keeps a service's endpoint registered with the xDS control plane, so the
// edge's EDS routes to it. Registration is best-effort: Run never fails the service; while the
// control plane is unreachable or refuses, it logs and retries with jittered back-off.
//
// Wiring in a service (the kit's runtime):
//
//	conn, _ := rt.Clients.Connect(client.Dependency{Name: "xds", Addr: xdsAddr, ID: identity.XDS})
//	rt.Go(func(ctx context.Context) error {
//		return registration.Run(ctx, conn, "orders", advertisedHost, port, rt.Logger)
//	})
package registration

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"time"

	"connectrpc.com/connect"

	xdsv1 "mercato.dev/proto/gen/go/mercato/xds/v1"
	"mercato.dev/proto/gen/go/mercato/xds/v1/xdsv1connect"
	"mercato.dev/services/kit/client"
)

// Endpoint is what a service registers: its cluster and where its mTLS listener is reachable.
type Endpoint struct {
	Cluster    string // the service name, e.g. "orders"
	Host       string // an IP or DNS name the edge can reach; unspecified (0.0.0.0, ::, "") means os.Hostname()
	Port       uint32
	InstanceID string // optional; the control plane assigns one when empty
}

// Options tune the loop. Zero values take the defaults in brackets.
type Options struct {
	Logger     *slog.Logger  // [discard]
	MinBackoff time.Duration // first retry delay after a failure [200ms]
	MaxBackoff time.Duration // longest retry delay [30s]
	Timeout    time.Duration // per call [3s]
}

// Run registers cluster's endpoint host:port through conn (a kit connection to the control
// plane's registration address, expecting spiffe://mercato.local/xds), heartbeats it, registers
// again whenever the control plane forgot it, and deregisters it when ctx ends. It returns nil
// when ctx ends; it never returns an error for the service to fail on.
func Run(ctx context.Context, conn *client.Conn, cluster, host, port string, logger *slog.Logger) error {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		logger.Error("xds registration disabled: bad port", "port", port)
		return nil
	}
	c := xdsv1connect.NewRegistrationServiceClient(conn.HTTPClient, conn.BaseURL, conn.Options()...)
	return RunClient(ctx, c, Endpoint{Cluster: cluster, Host: host, Port: uint32(p)}, Options{Logger: logger})
}

// RunClient is Run with any registration client.
func RunClient(ctx context.Context, c xdsv1connect.RegistrationServiceClient, ep Endpoint, opts Options) error {
	opts.setDefaults()
	ep.Host = advertised(ep.Host)
	l := &loop{c: c, ep: ep, opts: opts, log: opts.Logger.With("cluster", ep.Cluster, "endpoint", fmt.Sprintf("%s:%d", ep.Host, ep.Port))}
	l.run(ctx)
	return nil
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
}

type loop struct {
	c        xdsv1connect.RegistrationServiceClient
	ep       Endpoint
	opts     Options
	log      *slog.Logger
	failures int // consecutive failed calls
}

func (l *loop) run(ctx context.Context) {
	for ctx.Err() == nil {
		interval, ok := l.register(ctx)
		if !ok {
			l.pause(ctx, l.backoff())
			continue
		}
		l.heartbeat(ctx, interval) // returns when the registration is lost or ctx ends
	}
	l.deregister(ctx)
}

// register returns the heartbeat interval, or false after a failed attempt.
func (l *loop) register(ctx context.Context) (time.Duration, bool) {
	req := &xdsv1.RegisterRequest{Cluster: l.ep.Cluster, Host: l.ep.Host, Port: l.ep.Port}
	if l.ep.InstanceID != "" {
		req.InstanceId = &l.ep.InstanceID
	}
	callCtx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	res, err := l.c.Register(callCtx, req)
	if err != nil {
		l.failed(ctx, "register", err)
		return 0, false
	}
	l.ep.InstanceID = res.GetInstanceId()
	l.failures = 0
	l.log.Info("registered with the xds control plane", "instance", l.ep.InstanceID, "ttl", res.GetTtl().AsDuration().String())
	interval := res.GetHeartbeatInterval().AsDuration()
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return interval, true
}

// heartbeat beats every interval until the control plane no longer knows the instance (then
// the caller registers again) or ctx ends. A failed beat is retried sooner, with back-off.
func (l *loop) heartbeat(ctx context.Context, interval time.Duration) {
	wait := interval
	for l.pause(ctx, wait) {
		callCtx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
		_, err := l.c.Heartbeat(callCtx, &xdsv1.HeartbeatRequest{Cluster: l.ep.Cluster, InstanceId: l.ep.InstanceID})
		cancel()
		switch {
		case err == nil:
			l.failures, wait = 0, interval
		case connect.CodeOf(err) == connect.CodeNotFound:
			l.log.Info("the xds control plane forgot this endpoint; registering again", "instance", l.ep.InstanceID)
			return
		default:
			l.failed(ctx, "heartbeat", err)
			wait = min(l.backoff(), interval)
		}
	}
}

func (l *loop) deregister(ctx context.Context) {
	if l.ep.InstanceID == "" {
		return
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(l.opts.Timeout, 2*time.Second))
	defer cancel()
	if _, err := l.c.Deregister(callCtx, &xdsv1.DeregisterRequest{Cluster: l.ep.Cluster, InstanceId: l.ep.InstanceID}); err != nil {
		l.log.Warn("xds deregistration failed; the endpoint expires after its TTL", "error", err.Error())
		return
	}
	l.log.Info("deregistered from the xds control plane", "instance", l.ep.InstanceID)
}

// failed logs the first failure of a streak as a warning (a refusal as an error: it will not
// fix itself until routes.yaml or the service's identity changes) and the rest at debug level.
func (l *loop) failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	l.failures++
	level := slog.LevelDebug
	if l.failures == 1 {
		level = slog.LevelWarn
	}
	if code := connect.CodeOf(err); code == connect.CodePermissionDenied || code == connect.CodeInvalidArgument || (code == connect.CodeNotFound && op == "register") {
		level = slog.LevelError
		l.failures = max(l.failures, 8) // refusals retry at the slow end of the back-off
	}
	l.log.Log(ctx, level, "xds "+op+" failed; the service keeps serving", "error", err.Error(), "attempt", l.failures)
}

// backoff is a full-jitter exponential delay from the number of consecutive failures.
func (l *loop) backoff() time.Duration {
	d := l.opts.MaxBackoff
	if n := l.failures - 1; n < 30 {
		d = min(l.opts.MinBackoff<<max(n, 0), l.opts.MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// pause waits d or until ctx ends, reporting whether it waited the whole d.
func (l *loop) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// advertised turns an unspecified listen host into one the edge can reach.
func advertised(host string) string {
	if addr, err := netip.ParseAddr(host); host != "" && (err != nil || !addr.IsUnspecified()) {
		return host
	}
	if name, err := os.Hostname(); err == nil {
		return name
	}
	return host
}
