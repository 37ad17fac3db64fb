package outbox

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"mercato.dev/services/kit/events"
)

// tracer is looked up at each use (only for sampled work): a process or test that installs a
// new global provider gets its spans.
func tracer() trace.Tracer { return otel.Tracer("mercato.dev/services/kit/outbox") }

// startPublishSpan starts the producer span of one event's publish, a child of the trace
// context the event was written with (so the publish belongs to the request that caused it),
// and puts the span's own context in the message headers: the consumer's span becomes its
// child. An event whose trace was not sampled gets no span and keeps its headers as they are.
// The span returned may be nil.
func startPublishSpan(ctx context.Context, ev Event, header nats.Header) trace.Span {
	parent := otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(ev.Headers))
	if !trace.SpanContextFromContext(parent).IsSampled() {
		return nil
	}
	pctx, span := tracer().Start(parent, "publish "+ev.Subject, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "publish"),
			attribute.String("messaging.destination.name", ev.Subject),
			attribute.String("messaging.message.id", ev.ID),
		))
	otel.GetTextMapPropagator().Inject(pctx, events.HeaderCarrier(header))
	return span
}

// endSpans ends the publish spans, marking those of events not acknowledged as errors.
func endSpans(spans []trace.Span, acked []bool) {
	for i, span := range spans {
		if span == nil {
			continue
		}
		if !acked[i] {
			span.SetStatus(codes.Error, "not acknowledged by JetStream")
		}
		span.End()
	}
}
