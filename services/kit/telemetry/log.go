// Package telemetry gives every process the same structured logs, Prometheus metrics and
// OpenTelemetry tracing, so one request can be followed across every hop: the SDK configured
// from the standard OTEL_* variables (OTLP over gRPC or HTTP; off, silent and nearly free when
// no endpoint is set), W3C trace-context propagation, log records stamped with trace and span
// IDs, RPC metrics, and the identity metrics (SVID and trust-bundle expiry, build info).
package telemetry

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns a JSON logger that stamps every record with the service name and, when the
// context carries a span, its trace and span IDs.
func NewLogger(w io.Writer, service string, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(traceHandler{h}).With("service", service)
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// Discard is a logger that writes nothing, for tests and defaults.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
