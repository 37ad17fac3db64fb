package events

import (
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// Message headers set by Mercato, besides jetstream.MsgIDHeader (the event ID) and the W3C
// trace context ("traceparent", "tracestate").
const (
	// HeaderEventType is the full protobuf name of the payload's message type.
	HeaderEventType = "Mercato-Event-Type"

	// HeaderDLQReason is why a dead-lettered message could not be handled: the error text.
	HeaderDLQReason = "Mercato-Dlq-Reason"
	// HeaderDLQSubject is the dead-lettered message's original subject.
	HeaderDLQSubject = "Mercato-Dlq-Subject"
	// HeaderDLQStream is the stream the dead-lettered message was consumed from.
	HeaderDLQStream = "Mercato-Dlq-Stream"
	// HeaderDLQSequence is its sequence number in that stream.
	HeaderDLQSequence = "Mercato-Dlq-Sequence"
	// HeaderDLQConsumer is the durable consumer that gave up on it.
	HeaderDLQConsumer = "Mercato-Dlq-Consumer"
	// HeaderDLQDeliveries is how many times it was delivered to that consumer.
	HeaderDLQDeliveries = "Mercato-Dlq-Deliveries"
	// HeaderEventID repeats the event ID on a dead-lettered message, whose own Nats-Msg-Id is
	// scoped to the consumer.
	HeaderEventID = "Mercato-Event-Id"
)

// HeaderCarrier adapts NATS headers to OpenTelemetry propagation. Unlike HTTP headers, NATS
// header keys are case-sensitive and not canonicalized: the carrier reads and writes keys
// exactly as the propagator names them ("traceparent").
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set sets key to value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys present.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
