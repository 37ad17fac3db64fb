package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Version is the build version, set at link time:
//
//	go build -ldflags "-X mercato.dev/services/kit/telemetry.Version=$(git describe --always --dirty)"
//
// (VCS stamping is off on the build machines). It goes into the trace resource
// (service.version) and the build_info metric.
var Version = "dev"

// SpiffeIDKey is the resource attribute carrying the process's SPIFFE ID.
const SpiffeIDKey = attribute.Key("spiffe.id")

// Getenv looks a variable up: os.Getenv in main, a map in tests.
type Getenv func(string) string

// Tracing is the outcome of SetupTracing.
type Tracing struct {
	// Exporting tells whether spans leave the process (an OTLP endpoint is configured).
	Exporting bool
	// Shutdown flushes the spans still buffered and stops the exporter; call it on exit.
	Shutdown func(context.Context) error
}

// SetupTracing installs the process-wide tracer provider and the W3C trace-context
// propagator from the standard OpenTelemetry variables:
//
//   - OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: where spans go. When
//     neither is set (or OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none) nothing is
//     exported and nothing is logged: the provider samples no trace of its own (spans keep real
//     IDs for logs and propagation, but are not recorded), and records only what an upstream
//     hop already sampled, so that a sampled trace stays whole downstream.
//   - OTEL_EXPORTER_OTLP_PROTOCOL / _TRACES_PROTOCOL: grpc or http/protobuf (the default).
//   - OTEL_SERVICE_NAME (default service), OTEL_RESOURCE_ATTRIBUTES (k=v,…).
//   - OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on).
//
// Headers, certificates, compression and timeouts of the exporter come from the remaining
// OTEL_EXPORTER_OTLP_* variables, read by the exporter itself. The resource carries the
// service name, Version, the SPIFFE ID given and an instance ID.
func SetupTracing(ctx context.Context, service, spiffeID string, getenv Getenv) (Tracing, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	res, err := tracingResource(service, spiffeID, getenv)
	if err != nil {
		return Tracing{}, err
	}
	exporter, err := newExporter(ctx, getenv)
	if err != nil {
		return Tracing{}, err
	}
	if exporter == nil {
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
		otel.SetTracerProvider(tp)
		followsOnly.Store(true)
		return Tracing{Shutdown: tp.Shutdown}, nil
	}
	sampler, err := Sampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return Tracing{}, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sampler),
		sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(time.Second)))
	otel.SetTracerProvider(tp)
	followsOnly.Store(false)
	shutdown := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return tp.Shutdown(ctx)
	}
	return Tracing{Exporting: true, Shutdown: shutdown}, nil
}

// TracingEnabled tells whether the OTEL_* variables ask for spans to be exported.
func TracingEnabled(getenv Getenv) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// newExporter is the OTLP exporter the variables describe, nil when none is configured.
func newExporter(ctx context.Context, getenv Getenv) (sdktrace.SpanExporter, error) {
	if !TracingEnabled(getenv) {
		return nil, nil
	}
	protocol := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	switch protocol {
	case "grpc":
		if endpoint == "" {
			endpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
		}
		if err := checkEndpoint(endpoint); err != nil {
			return nil, err
		}
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP/gRPC exporter: %w", err)
		}
		return exp, nil
	case "", "http/protobuf":
		if endpoint == "" { // the signal path is appended to the base endpoint only
			endpoint = strings.TrimSuffix(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "/") + "/v1/traces"
		}
		if err := checkEndpoint(endpoint); err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP/HTTP exporter: %w", err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_PROTOCOL %q: want grpc or http/protobuf", protocol)
}

// checkEndpoint refuses an endpoint that is not an http(s) URL with a host.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("telemetry: OTLP endpoint %q: want http(s)://host:port", endpoint)
	}
	return nil
}

// Sampler is the sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name.
func Sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER_ARG %q: want a ratio in [0, 1]", arg)
		}
		return r, nil
	}
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER %q is not supported", name)
}

// tracingResource describes this process: OTEL_RESOURCE_ATTRIBUTES first, then the service
// name (OTEL_SERVICE_NAME wins), version, SPIFFE ID and instance.
func tracingResource(service, spiffeID string, getenv Getenv) (*resource.Resource, error) {
	attrs, err := parseResourceAttributes(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	attrs = append(attrs,
		semconv.ServiceName(firstNonEmpty(getenv("OTEL_SERVICE_NAME"), service)),
		semconv.ServiceNamespace("mercato"),
		semconv.ServiceVersion(Version),
		semconv.ServiceInstanceID(host+"-"+strconv.Itoa(os.Getpid())),
	)
	if spiffeID != "" {
		attrs = append(attrs, SpiffeIDKey.String(spiffeID))
	}
	return resource.NewSchemaless(attrs...), nil
}

// parseResourceAttributes reads "k1=v1,k2=v2" with percent-encoded values (the spec's format).
func parseResourceAttributes(s string) ([]attribute.KeyValue, error) {
	var out []attribute.KeyValue
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("telemetry: OTEL_RESOURCE_ATTRIBUTES: %q is not key=value", pair)
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTEL_RESOURCE_ATTRIBUTES: %s: %w", k, err)
		}
		out = append(out, attribute.String(k, val))
	}
	return out, nil
}

func firstSet(getenv Getenv, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func firstNonEmpty(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
