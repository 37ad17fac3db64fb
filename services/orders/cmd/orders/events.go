package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"mercato.dev/ent/database"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/outbox"
	"mercato.dev/services/kit/service"
)

// keepSent is how long published outbox rows are kept: as long as the stream keeps the events.
const keepSent = events.DefaultMaxAge

// startRelay connects to the broker (NATS_URL) and runs the relay of the orders outbox as a
// background loop, once the streams exist. The broker is not a readiness condition here: the
// outbox holds events while it is away, so orders keeps taking orders (see the README); its
// state is the events_broker_connected gauge and the outbox backlog metrics.
func startRelay(rt *service.Runtime, db *database.DB) (*outbox.Relay, error) {
	lease := 30 * time.Second
	if v := rt.Getenv("ORDERS_OUTBOX_LEASE"); v != "" {
		var err error
		if lease, err = time.ParseDuration(v); err != nil || lease < 2*time.Second {
			return nil, fmt.Errorf("ORDERS_OUTBOX_LEASE: %q is not a duration of 2s or more", v)
		}
	}
	nc, js, err := events.Connect(rt.Config.NATSURL, rt.Config.Name, rt.Logger)
	if err != nil {
		return nil, err
	}
	rt.OnClose(func() error { nc.Close(); return nil })
	if err := rt.Metrics.Registry.Register(brokerGauge(nc)); err != nil {
		return nil, err
	}
	store, err := outbox.NewSQLStore(db.SQL(), db.Dialect(), "outbox_events")
	if err != nil {
		return nil, err
	}
	relay, err := outbox.NewRelay(store, js, outbox.Options{
		Lease: lease, PublishTimeout: min(5*time.Second, lease/2), KeepSent: keepSent,
		Logger: rt.Logger, Registerer: rt.Metrics.Registry,
	})
	if err != nil {
		return nil, err
	}
	rt.Logger.Info("outbox relay configured", "nats", rt.Config.NATSURL, "owner", relay.Owner(), "lease", lease.String())
	rt.Go(func(ctx context.Context) error {
		if err := events.EnsureStreamsRetry(ctx, js, rt.Logger); err != nil {
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
