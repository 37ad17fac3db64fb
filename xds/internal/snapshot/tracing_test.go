package snapshot_test

import (
	"bytes"
	"os"
	"slices"
	"testing"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"mercato.dev/xds/internal/policy"
	"mercato.dev/xds/internal/snapshot"
)

// TestEdgeTracing: routes.yaml's tracing block becomes the public HCM's OpenTelemetry tracer,
// exporting to the bootstrap's collector cluster at the configured sampling; without a
// collector cluster the HCM has no tracing. Both snapshots validate (build checks).
func TestEdgeTracing(t *testing.T) {
	t.Parallel()
	p := repoPolicy(t)
	manager := publicManager(t, build(t, p, nil))
	tr := manager.GetTracing()
	if tr == nil || tr.GetProvider().GetName() != snapshot.OpenTelemetryTracer || tr.GetRandomSampling().GetValue() != 100 {
		t.Fatalf("tracing %v, want the OpenTelemetry tracer at 100%%", tr)
	}
	otel := unpack[*tracev3.OpenTelemetryConfig](t, tr.GetProvider().GetTypedConfig())
	if otel.GetGrpcService().GetEnvoyGrpc().GetClusterName() != "opentelemetry_collector" || otel.GetServiceName() != "edge" {
		t.Errorf("OpenTelemetry config %v", otel)
	}

	off := *p
	off.Tracing = policy.Tracing{}
	if tr := publicManager(t, build(t, &off, nil)).GetTracing(); tr != nil {
		t.Errorf("tracing without a collector cluster: %v", tr)
	}
}

func TestTracingPolicyIsValidated(t *testing.T) {
	t.Parallel()
	base := routesWithoutTracing(t)
	if _, err := policy.Parse(append(slices.Clone(base), "tracing: {collector_cluster: otel, random_sampling: 5}\n"...), policy.Options{BaseDir: "/data"}); err != nil {
		t.Fatalf("a valid tracing block: %v", err)
	}
	for _, block := range []string{"tracing: {collector_cluster: otel, random_sampling: 101}", "tracing: {collector_cluster: 'bad name!'}", "tracing: {collector: otel}"} {
		if _, err := policy.Parse(append(slices.Clone(base), block+"\n"...), policy.Options{BaseDir: "/data"}); err == nil {
			t.Errorf("%s: accepted", block)
		}
	}
}

func publicManager(t *testing.T, set snapshot.Set) *hcm.HttpConnectionManager {
	t.Helper()
	l := set.Edge.GetResources(resource.ListenerType)[snapshot.PublicListener].(*listener.Listener)
	filters := l.GetFilterChains()[0].GetFilters()
	i := slices.IndexFunc(filters, func(f *listener.Filter) bool {
		return f.GetName() == "envoy.filters.network.http_connection_manager"
	})
	if i < 0 {
		t.Fatalf("the public listener has no HTTP connection manager: %v", filters)
	}
	return unpack[*hcm.HttpConnectionManager](t, filters[i].GetTypedConfig())
}

// routesWithoutTracing is the repository's routes.yaml without its tracing block (the last one).
func routesWithoutTracing(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../../edge/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("\ntracing:"))
	if i < 0 {
		t.Fatal("routes.yaml has no tracing block")
	}
	return data[:i+1]
}
