package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"mercato.dev/services/kit/telemetry"
)

func env(m map[string]string) telemetry.Getenv { return func(k string) string { return m[k] } }

func TestSampler(t *testing.T) {
	t.Parallel()
	good := map[[2]string]string{
		{"", ""}:                             "ParentBased{root:AlwaysOnSampler",
		{"always_off", ""}:                   "AlwaysOffSampler",
		{"traceidratio", "0.25"}:             "TraceIDRatioBased{0.25}",
		{"parentbased_traceidratio", "0"}:    "ParentBased{root:TraceIDRatioBased{0}",
		{"parentbased_always_off", "ignore"}: "ParentBased{root:AlwaysOffSampler",
	}
	for in, want := range good {
		s, err := telemetry.Sampler(in[0], in[1])
		if err != nil || !strings.HasPrefix(s.Description(), want) {
			t.Errorf("Sampler(%q, %q) = %v, %v; want %s…", in[0], in[1], s, err, want)
		}
	}
	for _, in := range [][2]string{{"traceidratio", "1.5"}, {"traceidratio", "x"}, {"jaeger_remote", ""}} {
		if _, err := telemetry.Sampler(in[0], in[1]); err == nil {
			t.Errorf("Sampler(%q, %q): no error", in[0], in[1])
		}
	}
}

func TestTracingEnabled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "none"}, false},
	}
	for _, c := range cases {
		if got := telemetry.TracingEnabled(env(c.env)); got != c.want {
			t.Errorf("TracingEnabled(%v) = %v", c.env, got)
		}
	}
}

// TestSetupTracing: with an OTLP/HTTP endpoint, spans reach it at shutdown with the resource
// the process declares; without one, spans have IDs but are not recorded, except under a
// sampled remote parent. Bad settings are errors. Not parallel: it sets the global provider.
func TestSetupTracing(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, &req)
		mu.Unlock()
	}))
	defer srv.Close()
	ctx := context.Background()

	tr, err := telemetry.SetupTracing(ctx, "orders", "spiffe://mercato.local/svc/orders", env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team=a%20b",
	}))
	if err != nil || !tr.Exporting {
		t.Fatalf("SetupTracing: %v %v", tr, err)
	}
	_, span := otel.Tracer("test").Start(ctx, "exported-span")
	span.End()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	mu.Lock()
	text := ""
	for _, r := range got {
		text += r.String()
	}
	mu.Unlock()
	for _, want := range []string{"exported-span", "spiffe://mercato.local/svc/orders", `"orders"`, `"a b"`, "service.version"} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %s: %s", want, text)
		}
	}

	tr, err = telemetry.SetupTracing(ctx, "orders", "", env(map[string]string{}))
	if err != nil || tr.Exporting {
		t.Fatalf("SetupTracing without endpoint: %v %v", tr, err)
	}
	_, span = otel.Tracer("test").Start(ctx, "local")
	if span.IsRecording() || !span.SpanContext().IsValid() {
		t.Errorf("without an exporter, a root span: recording %v, valid IDs %v; want not recording, valid", span.IsRecording(), span.SpanContext().IsValid())
	}
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	_, child := otel.Tracer("test").Start(trace.ContextWithRemoteSpanContext(ctx, sampled), "downstream")
	if !child.SpanContext().IsSampled() {
		t.Error("without an exporter, a sampled upstream's trace is no longer sampled downstream")
	}
	_ = tr.Shutdown(ctx)

	for _, bad := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_SAMPLER": "bogus"},
		{"OTEL_RESOURCE_ATTRIBUTES": "novalue"},
	} {
		if _, err := telemetry.SetupTracing(ctx, "orders", "", env(bad)); err == nil {
			t.Errorf("SetupTracing(%v): no error", bad)
		}
	}
}
