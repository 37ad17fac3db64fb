package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Consumer defaults.
const (
	DefaultMaxDeliver    = 5
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 64
)

// DefaultBackoff is the delay before redelivering a message whose handler failed, by failed
// attempt; the last value repeats.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}

// ConsumerConfig configures Consume. Stream and Durable are required.
type ConsumerConfig struct {
	// Stream is the stream to consume, such as "ORDERS".
	Stream string
	// Durable names the consumer; every replica of a service uses the same name and they
	// share the work. Its position survives restarts of the consumer and of the broker.
	Durable string
	// FilterSubjects restricts the consumer to these subjects (wildcards allowed); empty means
	// the whole stream. More than one needs nats-server 2.10 or later.
	FilterSubjects []string
	// MaxDeliver is how many times the handler is tried before the message is
	// dead-lettered (default 5). The broker's limit is one more, so a message whose last
	// attempt never finished (a crash, an ack timeout) is still dead-lettered.
	MaxDeliver int
	// AckWait is how long the broker waits for an ack before redelivering (default 30 s). Keep
	// it well above the handler's p99: the handler's context expires at 90% of it.
	AckWait time.Duration
	// Backoff is the redelivery delay after each failure (default DefaultBackoff).
	Backoff []time.Duration
	// MaxAckPending bounds the messages delivered but not yet acknowledged (default 64).
	MaxAckPending int
	// DeadLetterPrefix is prepended to a message's subject to dead-letter it (default
	// DeadLetterPrefix); a stream must capture those subjects (DLQStream).
	DeadLetterPrefix string
	// Logger receives one record per failure and dead letter (default: none).
	Logger *slog.Logger
	// Registerer receives the consumer metrics (default: none).
	Registerer prometheus.Registerer
}

// Message is one delivery of an event.
type Message struct {
	// ID is the event ID (the Nats-Msg-Id header): the key a handler deduplicates by. A
	// message published without one gets "<stream>:<sequence>".
	ID string
	// Subject is the subject the event was published to.
	Subject string
	// Type is the payload's protobuf full name (HeaderEventType), when the producer set it.
	Type string
	// Payload is the protobuf-encoded event.
	Payload []byte
	// Header holds every header of the message.
	Header nats.Header
	// Stream and Sequence locate the message in its stream.
	Stream   string
	Sequence uint64
	// Delivery counts deliveries to this consumer, from 1.
	Delivery int
	// Published is when the stream stored the message.
	Published time.Time
}

// Handler handles one message. It returns nil once the event's effect is durably recorded
// (with the event ID, in one transaction), an error to have the message redelivered later, or
// a Permanent error to dead-letter it at once. It must honour ctx: its deadline ends before the
// broker's ack wait.
type Handler func(ctx context.Context, m Message) error

// withDefaults fills the zero fields of c.
func (c ConsumerConfig) withDefaults() (ConsumerConfig, error) {
	if c.Stream == "" || c.Durable == "" {
		return c, errors.New("events: a consumer needs a stream and a durable name")
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.DeadLetterPrefix == "" {
		c.DeadLetterPrefix = DeadLetterPrefix
	}
	if !strings.HasSuffix(c.DeadLetterPrefix, ".") {
		c.DeadLetterPrefix += "."
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// jetstream is the broker-side configuration of the durable pull consumer.
func (c ConsumerConfig) jetstream() jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver + 1,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(c.FilterSubjects) == 1 {
		cfg.FilterSubject = c.FilterSubjects[0] // understood by servers before 2.10 too
	} else {
		cfg.FilterSubjects = c.FilterSubjects
	}
	return cfg
}

// consumer is one running Consume.
type consumer struct {
	js      jetstream.JetStream
	cfg     ConsumerConfig
	handle  Handler
	log     *slog.Logger
	metrics *consumerMetrics
	labels  prometheus.Labels
	tracer  trace.Tracer
}

// Consume creates or updates the durable pull consumer described by cfg and hands its messages
// to handle one at a time until ctx is done, then returns nil (or an error once the NATS
// connection is closed for good). A message is acknowledged only
// after handle returned nil. After a failure it is redelivered after the configured backoff;
// after MaxDeliver failures, or a Permanent one, it is republished to DeadLetterPrefix + its
// subject with the reason in its headers and then terminated, so later messages keep flowing.
// A handler interrupted by ctx leaves its message to be redelivered at once. While the broker
// is unreachable, or the stream missing, Consume keeps retrying; it fails when no stream
// captures the dead-letter subjects (create the streams first, see EnsureStreamsRetry).
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, handle Handler) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	c := &consumer{
		js: js, cfg: cfg, handle: handle,
		log:     cfg.Logger.With("stream", cfg.Stream, "consumer", cfg.Durable),
		metrics: newConsumerMetrics(cfg.Registerer),
		labels:  prometheus.Labels{"stream": cfg.Stream, "consumer": cfg.Durable},
		tracer:  otel.Tracer("mercato.dev/services/kit/events"),
	}
	c.metrics.touch(c.labels) // every series exists from the start: rate() and alerts see zeros
	for ctx.Err() == nil {
		if js.Conn().IsClosed() {
			return fmt.Errorf("events: consumer %s: %w", cfg.Durable, nats.ErrConnectionClosed)
		}
		err := c.run(ctx)
		if errors.Is(err, errNoDeadLetterStream) {
			return fmt.Errorf("events: consumer %s: %w", cfg.Durable, err)
		}
		if err != nil && ctx.Err() == nil {
			c.log.Warn("consumer restarting", "error", err.Error())
			sleep(ctx, time.Second)
		}
	}
	return nil
}

// errNoDeadLetterStream is a configuration error: dead letters would have nowhere to go.
var errNoDeadLetterStream = errors.New("no stream captures the dead-letter subjects")

// run checks the dead-letter stream, creates the consumer and handles messages until ctx is
// done or the iterator breaks.
func (c *consumer) run(ctx context.Context) error {
	_, err := c.js.StreamNameBySubject(ctx, c.cfg.DeadLetterPrefix+c.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w (%s>)", errNoDeadLetterStream, c.cfg.DeadLetterPrefix)
	}
	if err != nil {
		return fmt.Errorf("find the dead-letter stream: %w", err)
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, c.cfg.Stream, c.cfg.jetstream())
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(min(c.cfg.MaxAckPending, 16)))
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		switch {
		case ctx.Err() != nil:
			if msg != nil {
				giveBack(it, msg)
			}
			return nil
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			c.log.Warn("consumer missed heartbeats; still pulling")
			continue
		case err != nil:
			return err
		}
		if interrupted := c.process(ctx, msg); interrupted {
			giveBack(it, msg)
			return nil
		}
	}
}

// giveBack returns a message whose handler was interrupted, for another consumer to take at
// once. The iterator is stopped and unsubscribed first: the broker would otherwise redeliver
// the message to this iterator's pull request, still waiting on the server, and it would sit
// there unseen until the ack wait ran out.
func giveBack(it jetstream.MessagesContext, msg jetstream.Msg) {
	it.Stop()
	if c, ok := it.(interface{ Closed() <-chan struct{} }); ok {
		select {
		case <-c.Closed():
		case <-time.After(2 * time.Second):
		}
	}
	_ = msg.Nak() // sent after the unsubscription on the same connection
}

// process runs the handler on one message and settles it: ack, delayed nak, or dead letter.
// It reports a handler interrupted by the end of ctx, leaving that message unsettled.
func (c *consumer) process(ctx context.Context, msg jetstream.Msg) (interrupted bool) {
	md, err := msg.Metadata()
	if err != nil { // not a JetStream delivery: nothing to redeliver
		c.log.Error("message without JetStream metadata", "subject", msg.Subject(), "error", err.Error())
		_ = msg.Term()
		return false
	}
	m := newMessage(msg, md)
	c.observeDelivery(m, md.NumPending)
	// The message's logger is made only when there is something to say (slog's With was a few
	// per cent of a consumer's CPU when made for every message).
	log := func() *slog.Logger {
		return c.log.With("subject", m.Subject, "event_id", m.ID, "stream_seq", m.Sequence, "delivery", m.Delivery)
	}
	if m.Delivery > c.cfg.MaxDeliver {
		c.deadLetter(ctx, msg, m, log(), fmt.Errorf("no handler result after %d deliveries (crash or ack timeout)", c.cfg.MaxDeliver))
		return false
	}
	err = c.call(ctx, m)
	switch {
	case err == nil:
		c.metrics.handled.With(c.labels).Inc()
		if aerr := msg.Ack(); aerr != nil {
			log().Warn("ack failed; the message will be redelivered", "error", aerr.Error())
		}
	case ctx.Err() != nil: // shutting down: the caller gives it back for another consumer
		return true
	case IsPermanent(err) || m.Delivery >= c.cfg.MaxDeliver:
		c.metrics.failed.With(c.labels).Inc()
		c.deadLetter(ctx, msg, m, log(), err)
	default:
		c.metrics.failed.With(c.labels).Inc()
		delay := c.backoff(m.Delivery)
		l := log()
		l.Warn("event handler failed; redelivering", "error", err.Error(), "delay", delay.String())
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			l.Warn("nak failed; the message will be redelivered after the ack wait", "error", nerr.Error())
		}
	}
	return false
}

// call runs the handler under the producer's trace context and a deadline inside the ack
// wait, turning a panic into an error.
func (c *consumer) call(ctx context.Context, m Message) (err error) {
	ctx = otel.GetTextMapPropagator().Extract(ctx, HeaderCarrier(m.Header))
	ctx, span := c.tracer.Start(ctx, "consume "+m.Subject, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", m.Subject),
			attribute.String("messaging.message.id", m.ID),
			attribute.String("messaging.consumer.group.name", c.cfg.Durable),
		))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AckWait*9/10)
	defer cancel()
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("event handler panic: %v", r)
		}
		c.metrics.duration.With(c.labels).Observe(time.Since(start).Seconds())
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}()
	return c.handle(ctx, m)
}

// observeDelivery records the consumer's lag and redeliveries as of this delivery.
func (c *consumer) observeDelivery(m Message, pending uint64) {
	c.metrics.pending.With(c.labels).Set(float64(pending))
	if m.Delivery > 1 {
		c.metrics.redelivered.With(c.labels).Inc()
	}
	c.metrics.lag.With(c.labels).Observe(max(time.Since(m.Published).Seconds(), 0))
}

// deadLetter republishes the message to the dead-letter subject, then terminates it. If the
// dead letter cannot be published the message is redelivered later instead: it is never lost.
func (c *consumer) deadLetter(ctx context.Context, msg jetstream.Msg, m Message, log *slog.Logger, reason error) {
	dl := nats.NewMsg(c.cfg.DeadLetterPrefix + m.Subject)
	dl.Data = m.Payload
	for k, v := range m.Header {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = v
		}
	}
	dl.Header.Set(HeaderDLQReason, headerValue(reason.Error()))
	dl.Header.Set(HeaderDLQSubject, m.Subject)
	dl.Header.Set(HeaderDLQStream, m.Stream)
	dl.Header.Set(HeaderDLQSequence, strconv.FormatUint(m.Sequence, 10))
	dl.Header.Set(HeaderDLQConsumer, c.cfg.Durable)
	dl.Header.Set(HeaderDLQDeliveries, strconv.Itoa(m.Delivery))
	dl.Header.Set(HeaderEventID, m.ID)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// Scoped to the consumer: each consumer that gives up on an event leaves its own dead
	// letter, and a dead letter republished after a crash is dropped as a duplicate.
	if _, err := c.js.PublishMsg(pctx, dl, jetstream.WithMsgID(c.cfg.Durable+"/"+m.ID)); err != nil {
		log.Error("dead-letter publish failed; redelivering", "reason", reason.Error(), "error", err.Error())
		_ = msg.NakWithDelay(c.backoff(m.Delivery))
		return
	}
	if err := msg.Term(); err != nil {
		log.Warn("term failed after dead-lettering", "error", err.Error())
	}
	c.metrics.deadLettered.With(c.labels).Inc()
	log.Error("event dead-lettered", "reason", reason.Error(), "dlq_subject", dl.Subject)
}

// backoff is the redelivery delay after the given failed delivery.
func (c *consumer) backoff(delivery int) time.Duration {
	return c.cfg.Backoff[min(max(delivery, 1), len(c.cfg.Backoff))-1]
}

// newMessage describes a delivery.
func newMessage(msg jetstream.Msg, md *jetstream.MsgMetadata) Message {
	h := msg.Headers()
	if h == nil {
		h = nats.Header{}
	}
	m := Message{
		ID:        h.Get(jetstream.MsgIDHeader),
		Subject:   msg.Subject(),
		Type:      h.Get(HeaderEventType),
		Payload:   msg.Data(),
		Header:    h,
		Stream:    md.Stream,
		Sequence:  md.Sequence.Stream,
		Delivery:  int(md.NumDelivered),
		Published: md.Timestamp,
	}
	if m.ID == "" {
		m.ID = md.Stream + ":" + strconv.FormatUint(m.Sequence, 10)
	}
	return m
}

// headerValue makes s a valid, bounded header value.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// sleep waits for d or until ctx is done, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
