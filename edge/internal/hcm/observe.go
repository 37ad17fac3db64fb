package hcm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"mercato.dev/edge/internal/accesslog"
	"mercato.dev/edge/internal/upstream"
)

// OpenTelemetryTracer is the only tracing provider the dev edge honours.
const OpenTelemetryTracer = "envoy.tracers.opentelemetry"

// FlagObserver is an Observer that also counts Envoy's response flags (UO, UH, UT, NR, …).
type FlagObserver interface {
	ResponseFlag(cluster, flag string)
}

// tracing is the HCM's tracing configuration as the dev edge applies it: a server span per
// request through the process's OpenTelemetry SDK (its exporter comes from the OTEL_*
// variables, not from the provider's collector cluster, which only Envoy dials).
type tracing struct {
	percent float64 // random_sampling: share of requests without a trace context that start one
	tracer  trace.Tracer
}

// newTracing compiles the HCM's tracing block; nil when tracing is off.
func newTracing(t *hcmv3.HttpConnectionManager_Tracing) (*tracing, error) {
	if t == nil {
		return nil, nil
	}
	if p := t.GetProvider(); p != nil {
		if p.GetName() != OpenTelemetryTracer {
			return nil, fmt.Errorf("tracing provider %q is not supported by the dev edge (only %s)", p.GetName(), OpenTelemetryTracer)
		}
		if err := p.GetTypedConfig().UnmarshalTo(&tracev3.OpenTelemetryConfig{}); err != nil {
			return nil, fmt.Errorf("tracing provider config: %w", err)
		}
	}
	percent := 100.0
	if s := t.GetRandomSampling(); s != nil {
		percent = s.GetValue()
	}
	return &tracing{percent: percent, tracer: otel.Tracer("mercato.dev/edge")}, nil
}

// start begins the request's server span and puts its context in the request headers, which
// the router forwards upstream. The edge honours an incoming W3C traceparent, its sampling
// decision included (edge/README.md says why); a request without one starts a sampled trace
// with probability random_sampling, else an unsampled one.
func (t *tracing) start(r *http.Request) (*http.Request, trace.Span) {
	if t == nil {
		return r, nil
	}
	prop := otel.GetTextMapPropagator()
	ctx := prop.Extract(r.Context(), headerCarrier(r.Header))
	if !trace.SpanContextFromContext(ctx).IsValid() && rand.Float64()*100 >= t.percent {
		ctx = trace.ContextWithSpanContext(ctx, unsampledRoot())
	}
	ctx, span := t.tracer.Start(ctx, "ingress", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("network.protocol.version", r.Proto),
		))
	prop.Inject(ctx, headerCarrier(r.Header))
	return r.WithContext(ctx), span
}

// headerCarrier is propagation.HeaderCarrier without canonicalising the W3C keys on every
// call (http.Header.Get("traceparent") allocates "Traceparent" each time).
type headerCarrier http.Header

func canonical(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

func (c headerCarrier) Get(key string) string {
	if v := c[canonical(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { c[canonical(key)] = []string{value} }

func (c headerCarrier) Keys() []string { return propagation.HeaderCarrier(c).Keys() }

// Values lets the W3C propagator join a tracestate sent in several header lines.
func (c headerCarrier) Values(key string) []string { return c[canonical(key)] }

// unsampledRoot is a fresh, unsampled trace context: the SDK's parent-based sampler follows
// it, so the request is traced by ID (logs, propagation) but not recorded.
func unsampledRoot() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	for i := range tid {
		tid[i] = byte(rand.Uint32())
	}
	for i := range sid {
		sid[i] = byte(rand.Uint32())
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true})
}

// begin gives the request its ID (generate_request_id: the access line, the span and the
// upstream see the same one) and its server span when tracing is on.
func (m *Manager) begin(r *http.Request) (*http.Request, trace.Span) {
	if m.requestID && r.Header.Get("X-Request-Id") == "" {
		r.Header.Set("X-Request-Id", newRequestID())
	}
	r, span := m.tracing.start(r)
	if span != nil {
		span.SetAttributes(attribute.String("request_id", r.Header.Get("X-Request-Id")))
	}
	return r, span
}

// observe ends the request: its span, the response flag metric and one access log line.
func (m *Manager) observe(x *exchange, span trace.Span, start time.Time) {
	elapsed := time.Since(start)
	cluster, routeName := "", ""
	if x.route != nil {
		cluster, routeName = x.route.Cluster, x.route.Name
	}
	flag := x.w.flag
	if x.route == nil {
		flag = "NR"
	}
	if fo, ok := m.obs.(FlagObserver); ok && flag != "" {
		fo.ResponseFlag(cluster, flag)
	}
	status := x.w.code()
	if span != nil {
		if routeName != "" {
			span.SetName(routeName)
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status),
			attribute.String("upstream_cluster", cluster), attribute.String("response_flags", orDash(flag)))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
	if m.access != nil {
		m.access.Log(&accesslog.Record{
			Time: time.Now(), Method: x.r.Method, Path: x.r.URL.Path, Protocol: x.r.Proto, Status: status,
			ResponseFlags: orDash(flag), UpstreamCluster: cluster,
			DurationMS: float64(elapsed.Microseconds()) / 1000, RequestID: x.r.Header.Get("X-Request-Id"),
			Downstream: x.r.RemoteAddr, UserAgent: x.r.UserAgent(), Span: trace.SpanContextFromContext(x.r.Context()),
		})
	} else if m.logger.Enabled(x.r.Context(), slog.LevelInfo) {
		m.logger.LogAttrs(x.r.Context(), slog.LevelInfo, "access",
			slog.String("method", x.r.Method), slog.String("path", x.r.URL.Path),
			slog.String("protocol", x.r.Proto), slog.Int("status", status),
			slog.String("response_flags", orDash(flag)), slog.String("upstream_cluster", cluster),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("request_id", x.r.Header.Get("X-Request-Id")),
			slog.String("downstream", x.r.RemoteAddr), slog.String("user_agent", x.r.UserAgent()))
	}
}

// responseFlag is Envoy's response flag for an error of the router, as proxyError answers it.
func responseFlag(r *http.Request, err error) string {
	var overflow *upstream.Overflow
	var connect *upstream.ConnectError
	switch {
	case errors.As(err, &overflow):
		return "UO"
	case errors.Is(context.Cause(r.Context()), errRouteTimeout), errors.Is(err, upstream.ErrPerTryTimeout):
		return "UT"
	case errors.Is(err, upstream.ErrNoHealthyUpstream):
		return "UH"
	case r.Context().Err() != nil:
		return "DC"
	case errors.As(err, &connect):
		return "UF"
	}
	return "UC"
}

// setFlag records the response flag on the edge's response writer.
func setFlag(w http.ResponseWriter, flag string) {
	if rw, ok := w.(*responseWriter); ok {
		rw.flag = flag
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
