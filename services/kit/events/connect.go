package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"mercato.dev/services/kit/config"
)

// DefaultURL is the local platform's embedded NATS (ARCHITECTURE "Local defaults"); services
// take NATS_URL instead when it is set (config.Service.NATSURL).
const DefaultURL = config.DefaultNATSURL

// Connect connects to the NATS server at url as name and returns the connection and its
// JetStream context. The connection outlives broker outages: it keeps reconnecting forever,
// starts even while the broker is down, and does not buffer publishes while disconnected, so
// a publish during an outage fails at once (the outbox keeps the event) rather than waiting
// in a client buffer. Close nc at exit (after draining consumers).
func Connect(url, name string, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("nats", url)
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1),
		nats.Timeout(5*time.Second),
		nats.ConnectHandler(func(*nats.Conn) { logger.Info("nats connected") }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "error", err.Error())
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("nats reconnected") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logger.Warn("nats error", "error", err.Error())
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("events: connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("events: jetstream: %w", err)
	}
	return nc, js, nil
}

// Ready is a readiness check: the connection is up.
func Ready(nc *nats.Conn) func(context.Context) error {
	return func(context.Context) error {
		if !nc.IsConnected() {
			return errors.New("nats: " + nc.Status().String())
		}
		return nil
	}
}
