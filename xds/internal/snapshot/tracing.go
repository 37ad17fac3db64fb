package snapshot

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"mercato.dev/xds/internal/policy"
)

// Names of the edge's tracing.
const (
	OpenTelemetryTracer = "envoy.tracers.opentelemetry"
	TracingServiceName  = "edge" // service.name of the edge's spans
)

// edgeTracing is the public HCM's tracing: Envoy's OpenTelemetry tracer exporting OTLP/gRPC to
// the collector cluster of the edge's bootstrap, a server span per request, random_sampling of
// requests without a trace context; nil when the policy has no collector.
func edgeTracing(t policy.Tracing) *hcm.HttpConnectionManager_Tracing {
	if t.CollectorCluster == "" {
		return nil
	}
	return &hcm.HttpConnectionManager_Tracing{
		RandomSampling: &typev3.Percent{Value: float64(t.RandomSampling)},
		Provider: &tracev3.Tracing_Http{
			Name: OpenTelemetryTracer,
			ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: mustAny(&tracev3.OpenTelemetryConfig{
				GrpcService: &core.GrpcService{TargetSpecifier: &core.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: t.CollectorCluster},
				}},
				ServiceName: TracingServiceName,
			})},
		},
	}
}
