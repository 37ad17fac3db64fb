package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"mercato.dev/services/kit/events"
)

// Event is one outbox row: what the relay publishes.
type Event struct {
	// ID is the event's UUID, published as the Nats-Msg-Id header: JetStream drops a duplicate
	// within its window, and consumers deduplicate by it.
	ID string
	// Subject is the JetStream subject, such as events.OrderConfirmed.
	Subject string
	// Payload is the protobuf-encoded event message.
	Payload []byte
	// Headers are published with the event: the W3C trace context (traceparent, tracestate)
	// and events.HeaderEventType.
	Headers map[string]string
	// CreateTime orders the outbox: the relay claims the oldest rows first.
	CreateTime time.Time
}

// Event message fields that New fills when the message declares them, as Mercato's event
// protos do (proto/mercato/orders/v1/events.proto).
const (
	eventIDField      = "event_id"
	occurTimeField    = "occur_time"
	traceContextField = "trace_context"
)

// New builds the outbox event announcing msg on subject. The event ID is msg's event_id field
// when it is set (it must be a UUID), or else a new UUIDv7. Before marshaling a copy of msg,
// New fills that copy's empty event_id, occur_time (now) and trace_context (the trace context
// of ctx, injected with the global OpenTelemetry propagator) when the message declares those
// fields; msg itself is not modified. The same trace context goes into the event's headers,
// with the message's full name under events.HeaderEventType.
func New(ctx context.Context, subject string, msg proto.Message) (Event, error) {
	if subject == "" {
		return Event{}, fmt.Errorf("outbox: event %s has no subject", msg.ProtoReflect().Descriptor().FullName())
	}
	now := time.Now().UTC()
	headers := map[string]string{}
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(headers))
	msg = proto.Clone(msg)
	m := msg.ProtoReflect()
	id, err := eventID(m)
	if err != nil {
		return Event{}, err
	}
	fillOccurTime(m, now)
	fillTraceContext(m, headers)
	payload, err := proto.Marshal(msg)
	if err != nil {
		return Event{}, fmt.Errorf("outbox: marshal %s: %w", m.Descriptor().FullName(), err)
	}
	headers[events.HeaderEventType] = string(m.Descriptor().FullName())
	return Event{ID: id, Subject: subject, Payload: payload, Headers: headers, CreateTime: now}, nil
}

// eventID returns m's event_id, setting it to a new UUIDv7 when m has the field but it is
// empty. A message without the field gets a UUIDv7 all the same.
func eventID(m protoreflect.Message) (string, error) {
	fd := m.Descriptor().Fields().ByName(eventIDField)
	if fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
		if id := m.Get(fd).String(); id != "" {
			if _, err := uuid.Parse(id); err != nil {
				return "", fmt.Errorf("outbox: %s.event_id %q is not a UUID", m.Descriptor().FullName(), id)
			}
			return id, nil
		}
	}
	v7, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("outbox: event ID: %w", err)
	}
	id := v7.String()
	if fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
		m.Set(fd, protoreflect.ValueOfString(id))
	}
	return id, nil
}

// fillOccurTime sets m's occur_time to now when m declares it as a Timestamp and it is unset.
func fillOccurTime(m protoreflect.Message, now time.Time) {
	fd := m.Descriptor().Fields().ByName(occurTimeField)
	if fd == nil || fd.Message() == nil || fd.IsList() || m.Has(fd) ||
		fd.Message().FullName() != "google.protobuf.Timestamp" {
		return
	}
	m.Set(fd, protoreflect.ValueOfMessage(timestamppb.New(now).ProtoReflect()))
}

// fillTraceContext copies the trace headers into m's trace_context map when m declares one as
// map<string, string> and it is empty.
func fillTraceContext(m protoreflect.Message, headers map[string]string) {
	fd := m.Descriptor().Fields().ByName(traceContextField)
	if fd == nil || !fd.IsMap() || fd.MapKey().Kind() != protoreflect.StringKind ||
		fd.MapValue().Kind() != protoreflect.StringKind || m.Has(fd) || len(headers) == 0 {
		return
	}
	mp := m.Mutable(fd).Map()
	for k, v := range headers {
		mp.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfString(v))
	}
}
