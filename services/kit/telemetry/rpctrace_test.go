package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/emptypb"
)

// seen is what the handler found in its context and headers.
type seen struct {
	span        trace.SpanContext
	traceparent string
}

// tracedPair serves one procedure through a real HTTP server with the server's RPCTracing and
// returns a client with the client's, as kit's server and client packages chain them.
func tracedPair(t *testing.T, got *seen) *connect.Client[emptypb.Empty, emptypb.Empty] {
	t.Helper()
	serverTracing, err := RPCTracing(otelconnect.WithTrustRemote(), otelconnect.WithoutMetrics())
	if err != nil {
		t.Fatal(err)
	}
	const procedure = "/mercato.test.v1.TestService/Ping"
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewUnaryHandler(procedure,
		func(ctx context.Context, req *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
			got.span = trace.SpanContextFromContext(ctx)
			got.traceparent = req.Header().Get("traceparent")
			return connect.NewResponse(&emptypb.Empty{}), nil
		}, connect.WithInterceptors(serverTracing)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clientTracing, err := RPCTracing(otelconnect.WithoutMetrics())
	if err != nil {
		t.Fatal(err)
	}
	return connect.NewClient[emptypb.Empty, emptypb.Empty](srv.Client(), srv.URL+procedure, connect.WithInterceptors(clientTracing))
}

// followOnlyProvider installs what SetupTracing installs without an exporter, plus a recorder
// to see which spans were recorded.
func followOnlyProvider(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())), sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	followsOnly.Store(true)
	t.Cleanup(func() {
		followsOnly.Store(false)
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	return rec
}

func remoteParent(t *testing.T, sampled bool) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(cfg)
	return trace.ContextWithRemoteSpanContext(context.Background(), sc), sc
}

func TestRPCTracingUnsampledCallGetsBareSpansThatKeepTheTrace(t *testing.T) {
	rec := followOnlyProvider(t)
	var got seen
	client := tracedPair(t, &got)
	ctx, parent := remoteParent(t, false)
	if _, err := client.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{})); err != nil {
		t.Fatal(err)
	}
	if got.span.TraceID() != parent.TraceID() || !got.span.IsValid() || got.span.IsSampled() {
		t.Fatalf("server span %v: want a valid, unsampled span of trace %s", got.span, parent.TraceID())
	}
	if got.span.SpanID() == parent.SpanID() {
		t.Error("the server reused its caller's span ID: it must start a span of its own")
	}
	// The client's span, not the caller's, is the one the traceparent names.
	want := "00-" + parent.TraceID().String() + "-"
	if len(got.traceparent) != 55 || got.traceparent[:36] != want || got.traceparent[36:52] == parent.SpanID().String() || got.traceparent[52:] != "-00" {
		t.Errorf("traceparent %q: want trace %s, a new client span ID, flags 00", got.traceparent, parent.TraceID())
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded for an unsampled trace", n)
	}
}

func TestRPCTracingSampledCallKeepsOtelconnectSpans(t *testing.T) {
	rec := followOnlyProvider(t)
	var got seen
	client := tracedPair(t, &got)
	ctx, parent := remoteParent(t, true)
	if _, err := client.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{})); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans recorded, want the client's and the server's", len(spans))
	}
	kinds := map[trace.SpanKind]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		kinds[s.SpanKind()] = s
		if s.SpanContext().TraceID() != parent.TraceID() || s.Name() != "mercato.test.v1.TestService/Ping" {
			t.Errorf("span %q of trace %s: want trace %s", s.Name(), s.SpanContext().TraceID(), parent.TraceID())
		}
		hasSystem := false
		for _, a := range s.Attributes() {
			hasSystem = hasSystem || a.Key == "rpc.method" && a.Value.AsString() == "mercato.test.v1.TestService/Ping"
		}
		if !hasSystem {
			t.Errorf("%s span has no rpc.method attribute: otelconnect did not record it", s.SpanKind())
		}
	}
	cs, ss := kinds[trace.SpanKindClient], kinds[trace.SpanKindServer]
	if cs == nil || ss == nil || ss.Parent().SpanID() != cs.SpanContext().SpanID() || cs.Parent().SpanID() != parent.SpanID() {
		t.Fatalf("want caller → client span → server span; got %v", spans)
	}
	if !got.span.Equal(ss.SpanContext()) {
		t.Errorf("handler's span %v is not the recorded server span %v", got.span, ss.SpanContext())
	}
}

func TestRPCTracingRecordsEverythingUnlessTheProviderOnlyFollows(t *testing.T) {
	// A provider that samples roots (a test's, or an exporting one): no bare spans.
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	followsOnly.Store(false)
	var got seen
	client := tracedPair(t, &got)
	if _, err := client.CallUnary(context.Background(), connect.NewRequest(&emptypb.Empty{})); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 2 {
		t.Fatalf("%d spans recorded, want 2 (client and server, by otelconnect)", n)
	}
}

// BenchmarkRPCTracingUnsampled is the server side of a call in an unsampled trace: the bare
// span against otelconnect's (followsOnly false), under the provider SetupTracing installs.
func BenchmarkRPCTracingUnsampled(b *testing.B) {
	for _, bare := range []bool{false, true} {
		name := "otelconnect"
		if bare {
			name = "bare"
		}
		b.Run(name, func(b *testing.B) {
			prev := otel.GetTracerProvider()
			otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample()))))
			otel.SetTextMapPropagator(propagation.TraceContext{})
			followsOnly.Store(bare)
			b.Cleanup(func() { followsOnly.Store(false); otel.SetTracerProvider(prev) })
			tracing, err := RPCTracing(otelconnect.WithTrustRemote(), otelconnect.WithoutMetrics())
			if err != nil {
				b.Fatal(err)
			}
			call := tracing.WrapUnary(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
				return connect.NewResponse(&emptypb.Empty{}), nil
			})
			req := connect.NewRequest(&emptypb.Empty{})
			req.Header().Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := call(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
