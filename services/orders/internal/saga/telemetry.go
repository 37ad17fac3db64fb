package saga

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"mercato.dev/services/orders/internal/order"
)

// tracer is looked up at each use (only for sampled work): a process or test that installs a
// new global provider gets its spans.
func tracer() trace.Tracer { return otel.Tracer("mercato.dev/services/orders/saga") }

// metrics count how sagas end.
type metrics struct {
	outcomes *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "saga_outcomes_total",
		Help: "Sagas settled by this process, by final status (confirmed, rejected, canceled) and reject reason (\"\" when none).",
	}, []string{"status", "reason"})}
	if reg != nil {
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(m.outcomes); errors.As(err, &are) {
			m.outcomes = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return m
}

// settled counts o, which has just settled.
func (m *metrics) settled(o order.Order) {
	m.outcomes.WithLabelValues(string(o.Status), string(o.Reason)).Inc()
}

// startStep starts the span of one saga step, a child of the request (or recovery run) that
// drives it, when that is traced; the span returned may be nil.
func startStep(ctx context.Context, o order.Order) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	return tracer().Start(ctx, "saga "+string(o.Step), trace.WithAttributes(
		attribute.String("mercato.order.id", o.ID.String()),
		attribute.String("saga.step", string(o.Step)),
		attribute.Int("saga.attempts", o.Attempts),
	))
}

// endStep records the step's outcome: the step and status it led to and the reject reason, or
// the error that left the order where it was.
func endStep(span trace.Span, next order.Order, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetAttributes(attribute.String("saga.outcome", "error"))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(
			attribute.String("saga.outcome", string(next.Step)),
			attribute.String("mercato.order.status", string(next.Status)),
		)
		if next.Reason != "" {
			span.SetAttributes(attribute.String("mercato.order.reject_reason", string(next.Reason)))
		}
	}
	span.End()
}
