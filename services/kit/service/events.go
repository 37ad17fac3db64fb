package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"mercato.dev/ent/database"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/outbox"
)

// broker is the process's one connection to NATS, made on first use.
type broker struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// Broker connects to the JetStream broker at Config.NATSURL once per process, with the
// process's SVID (reconnecting on its own for as long as the process runs, and with a fresh
// SVID before the one a connection was made with expires) and reports its state as the
// events_broker_connected gauge. The connection is closed at exit.
func (rt *Runtime) Broker() (*nats.Conn, jetstream.JetStream, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.broker != nil {
		return rt.broker.nc, rt.broker.js, nil
	}
	nc, js, err := events.Connect(rt.Config.NATSURL, rt.Config.Name, rt.Source, rt.Logger)
	if err != nil {
		return nil, nil, err
	}
	if err := rt.Metrics.Registry.Register(brokerGauge(nc)); err != nil {
		nc.Close()
		return nil, nil, err
	}
	rt.broker = &broker{nc: nc, js: js}
	rt.closers = append(rt.closers, func() error { nc.Close(); return nil })
	return nc, js, nil
}

// RelayOption tunes StartOutboxRelay.
type RelayOption func(*relayOptions)

type relayOptions struct{ linger time.Duration }

// DefaultLinger sets the service's relay linger when <SERVICE>_OUTBOX_LINGER is unset: longer
// than 5 ms for a service whose events nobody waits for in a request's time.
func DefaultLinger(d time.Duration) RelayOption {
	return func(o *relayOptions) { o.linger = d }
}

// StartOutboxRelay runs the relay of the service's transactional outbox (the outbox_events table
// of db) as a background loop, once the streams the service owns exist (events.StreamsOf). The broker is not a readiness
// condition for a producer: the outbox holds events while it is away, so the service keeps
// serving; its state shows in events_broker_connected and the outbox backlog metrics.
// <SERVICE>_OUTBOX_LEASE (default 30s, at least 2s) bounds how long a crashed relay's claimed
// rows wait before another replica publishes them. <SERVICE>_OUTBOX_LINGER (default 5ms, or the
// service's DefaultLinger; 0 for none, at most 1s) is how long the relay, woken by a commit,
// waits for more events to publish in the same batch: each batch costs two statements whatever
// its size, so under load a longer linger costs less CPU per event, for that much more latency.
func (rt *Runtime) StartOutboxRelay(db *database.DB, opts ...RelayOption) (*outbox.Relay, error) {
	o := relayOptions{linger: 5 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	lease, err := config.Duration(rt.Getenv, config.Var(rt.Config.Name, "OUTBOX_LEASE"), 30*time.Second)
	if err != nil || lease < 2*time.Second {
		return nil, fmt.Errorf("%s: want a duration of 2s or more (%v)", config.Var(rt.Config.Name, "OUTBOX_LEASE"), err)
	}
	linger, err := config.Duration(rt.Getenv, config.Var(rt.Config.Name, "OUTBOX_LINGER"), o.linger)
	if err != nil || linger < 0 || linger > time.Second {
		return nil, fmt.Errorf("%s: want a duration from 0 to 1s (%v)", config.Var(rt.Config.Name, "OUTBOX_LINGER"), err)
	}
	if linger == 0 {
		linger = -1 // outbox.Options: none
	}
	nc, js, err := rt.Broker()
	if err != nil {
		return nil, err
	}
	store, err := outbox.NewSQLStore(db.SQL(), db.Dialect(), "outbox_events")
	if err != nil {
		return nil, err
	}
	relay, err := outbox.NewRelay(store, js, outbox.Options{
		Lease: lease, PublishTimeout: min(5*time.Second, lease/2), Linger: linger, KeepSent: events.DefaultMaxAge,
		Logger: rt.Logger, Registerer: rt.Metrics.Registry,
	})
	if err != nil {
		return nil, err
	}
	rt.Server.ReportReady("nats", events.Ready(nc)) // shown in /readyz, never fails it
	onReconnect := nc.Opts.ReconnectedCB
	nc.SetReconnectHandler(func(c *nats.Conn) { // publish the backlog now, not after the backoff
		if onReconnect != nil {
			onReconnect(c)
		}
		relay.Notify()
	})
	rt.Logger.Info("outbox relay configured", "nats", rt.Config.NATSURL, "owner", relay.Owner(), "lease", lease.String())
	rt.Go(func(ctx context.Context) error {
		if err := events.EnsureStreamsRetry(ctx, js, rt.Logger, events.StreamsOf(identity.Service(rt.Config.Name))...); err != nil {
			if errors.Is(err, ctx.Err()) {
				return nil
			}
			return err
		}
		return relay.Run(ctx)
	})
	return relay, nil
}

// brokerGauge reports whether the connection to the broker is up.
func brokerGauge(nc *nats.Conn) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "events_broker_connected",
		Help: "1 while the connection to the NATS broker is up, else 0 (events wait in the outbox).",
	}, func() float64 {
		if nc.IsConnected() {
			return 1
		}
		return 0
	})
}
