package telemetry

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// SetupTracing installs the process-wide tracer provider and the W3C trace-context propagator,
// so that spans start at every Connect handler and client and their context crosses each hop.
// Exporters are added with opts (for example an OTLP batcher in deployment); without one, spans
// still carry real IDs that logs and outgoing calls propagate. Call the returned func on exit.
func SetupTracing(service string, opts ...sdktrace.TracerProviderOption) func(context.Context) error {
	res := resource.NewSchemaless(semconv.ServiceName(service))
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res)}, opts...)...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown
}
