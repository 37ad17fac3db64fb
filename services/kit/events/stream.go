package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/busauthz"
)

// Stream defaults.
const (
	// DefaultMaxAge is how long a stream keeps an event: long enough for a consumer to be
	// down for days and catch up.
	DefaultMaxAge = 7 * 24 * time.Hour
	// DefaultDuplicates is the window within which JetStream drops a message whose
	// Nats-Msg-Id it has already stored; it must exceed the time an outbox relay can take to
	// republish an event it published but did not mark sent (its lease plus retries).
	DefaultDuplicates = 2 * time.Minute
	// DefaultDLQMaxAge is how long dead letters are kept for inspection and replay.
	DefaultDLQMaxAge = 30 * 24 * time.Hour
)

// StreamConfig describes one stream. The zero values of the optional fields mean the defaults
// above, file storage and one replica.
type StreamConfig struct {
	Name       string
	Subjects   []string
	MaxAge     time.Duration
	Duplicates time.Duration
	Replicas   int
	// MaxBytes bounds the stream's size (oldest messages go first); 0 means unbounded.
	MaxBytes int64
}

// OrdersStream captures every order event.
func OrdersStream() StreamConfig {
	return StreamConfig{Name: busauthz.OrdersStream, Subjects: []string{OrderEvents}}
}

// PaymentsStream captures every payment event.
func PaymentsStream() StreamConfig {
	return StreamConfig{Name: busauthz.PaymentsStream, Subjects: []string{PaymentEvents}}
}

// CustomersStream captures every customer event.
func CustomersStream() StreamConfig {
	return StreamConfig{Name: busauthz.CustomersStream, Subjects: []string{CustomerEvents}}
}

// DLQStream captures dead letters, mercato.dlq.>.
func DLQStream() StreamConfig {
	return StreamConfig{Name: busauthz.DLQStream, Subjects: []string{DeadLetterPrefix + ">"}, MaxAge: DefaultDLQMaxAge}
}

// Streams lists the platform's streams: ORDERS, PAYMENTS, CUSTOMERS and DLQ.
func Streams() []StreamConfig {
	return []StreamConfig{OrdersStream(), PaymentsStream(), CustomersStream(), DLQStream()}
}

// StreamsOf lists the streams the identity id creates and updates at start-up, as the bus
// authorization table grants them (busauthz.Platform): a producer its own stream, a consumer
// the dead-letter stream.
func StreamsOf(id spiffeid.ID) []StreamConfig {
	var out []StreamConfig
	for _, name := range busauthz.Platform()[id].Streams {
		for _, s := range Streams() {
			if s.Name == name {
				out = append(out, s)
			}
		}
	}
	return out
}

// jetstream returns the JetStream configuration: limits retention (consumers do not remove
// messages; several services may consume one stream), file storage, old messages discarded
// first.
func (c StreamConfig) jetstream() jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Name:       c.Name,
		Subjects:   c.Subjects,
		Retention:  jetstream.LimitsPolicy,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardOld,
		MaxAge:     c.MaxAge,
		Duplicates: c.Duplicates,
		Replicas:   c.Replicas,
		MaxMsgs:    -1,
		MaxBytes:   -1,
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultDuplicates
	}
	if cfg.Duplicates > cfg.MaxAge {
		cfg.Duplicates = cfg.MaxAge
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if c.MaxBytes > 0 {
		cfg.MaxBytes = c.MaxBytes
	}
	return cfg
}

// EnsureStream creates the stream described by cfg, or updates it to cfg when it exists, so
// that every process may call it at start-up.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if cfg.Name == "" || len(cfg.Subjects) == 0 {
		return nil, errors.New("events: a stream needs a name and subjects")
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg.jetstream())
	if err != nil {
		return nil, fmt.Errorf("events: ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// EnsureStreams calls EnsureStream for each configuration: a service passes the streams the
// bus authorization table lets it create (StreamsOf), a tool with every right Streams().
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfgs ...StreamConfig) error {
	for _, cfg := range cfgs {
		if _, err := EnsureStream(ctx, js, cfg); err != nil {
			return err
		}
	}
	return nil
}

// EnsureStreamsRetry is EnsureStreams retried, with a delay growing to 5 s, until it succeeds
// or ctx ends (it then returns ctx's error): a service may start while the broker is down and
// create its streams once the broker is up. Failures are logged to log (which may be nil).
func EnsureStreamsRetry(ctx context.Context, js jetstream.JetStream, log *slog.Logger, cfgs ...StreamConfig) error {
	delay := 100 * time.Millisecond
	for {
		err := EnsureStreams(ctx, js, cfgs...)
		if err == nil {
			return nil
		}
		if log != nil && ctx.Err() == nil {
			log.Warn("events: streams not ensured yet; retrying", "error", err.Error(), "delay", delay.String())
		}
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
		delay = min(2*delay, 5*time.Second)
	}
}
