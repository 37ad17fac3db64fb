package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/service"

	"mercato.dev/services/notifications/internal/consumer"
)

// Durable is the name of the notifications consumer of the ORDERS stream: every replica uses
// it, and they share the work.
const Durable = "notifications"

// startConsumer connects to the broker (NATS_URL), adds the "nats" readiness check (a consumer
// that cannot reach its broker does not do its job) and consumes order events as a background
// loop, once the dead-letter stream exists (the ORDERS stream is the producer's: the consumer
// waits for it).
func startConsumer(rt *service.Runtime, r consumer.Recorder) error {
	ackWait := events.DefaultAckWait
	if v := rt.Getenv("NOTIFICATIONS_ACK_WAIT"); v != "" {
		var err error
		if ackWait, err = time.ParseDuration(v); err != nil || ackWait < time.Second {
			return fmt.Errorf("NOTIFICATIONS_ACK_WAIT: %q is not a duration of 1s or more", v)
		}
	}
	fault := rt.Getenv("NOTIFICATIONS_FAULT")
	if fault != "" && !faultsCompiled {
		rt.Logger.Warn("NOTIFICATIONS_FAULT ignored: this binary was built without -tags faultinject", "fault", fault)
	}
	nc, js, err := rt.Broker()
	if err != nil {
		return err
	}
	rt.Server.CheckReady("nats", events.Ready(nc))
	cfg := events.ConsumerConfig{
		Stream:         events.OrdersStream().Name,
		Durable:        Durable,
		FilterSubjects: []string{events.OrderEvents},
		AckWait:        ackWait,
		Logger:         rt.Logger,
		Registerer:     rt.Metrics.Registry,
	}
	rt.Logger.Info("order events consumer configured", "nats", rt.Config.NATSURL, "stream", cfg.Stream, "durable", cfg.Durable, "ack_wait", ackWait.String())
	rt.Go(func(ctx context.Context) error {
		if err := events.EnsureStreamsRetry(ctx, js, rt.Logger, events.StreamsOf(identity.Service(rt.Config.Name))...); err != nil {
			if errors.Is(err, ctx.Err()) {
				return nil
			}
			return err
		}
		return events.Consume(ctx, js, cfg, withFault(consumer.Handler(r, rt.Logger), fault))
	})
	return nil
}
