package e2e

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"mercato.dev/ops/tracing"
)

// collector is an OTLP trace receiver served by the test, over gRPC and over HTTP (protobuf),
// the two protocols the platform's exporters speak: every process of the platform exports its
// spans here, half of them over each protocol.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	grpcURL, httpURL string

	upstream coltracepb.TraceServiceClient // E2E_FORWARD_OTLP: a real backend (Jaeger) gets every span too

	mu         sync.Mutex
	spans      []tracing.Span
	byProtocol map[string]int // spans received per protocol
}

func startCollector(tb testing.TB) *collector {
	tb.Helper()
	c := &collector{byProtocol: map[string]int{}}
	if addr := os.Getenv("E2E_FORWARD_OTLP"); addr != "" {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			tb.Fatalf("E2E_FORWARD_OTLP %s: %v", addr, err)
		}
		tb.Cleanup(func() { _ = conn.Close() })
		c.upstream = coltracepb.NewTraceServiceClient(conn)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, c)
	go func() { _ = gs.Serve(gl) }()
	tb.Cleanup(gs.Stop)
	c.grpcURL = "http://" + gl.Addr().String()

	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(c.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(hl) }()
	tb.Cleanup(func() { _ = hs.Close() })
	c.httpURL = "http://" + hl.Addr().String()
	return c
}

// env points a process's exporter at the collector: OTLP/gRPC or OTLP/HTTP, everything sampled.
func (c *collector) env(protocol string) map[string]string {
	url := c.grpcURL
	if protocol == "http/protobuf" {
		url = c.httpURL
	}
	return map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": url,
		"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
		"OTEL_TRACES_SAMPLER":         "parentbased_always_on",
	}
}

// Export implements the OTLP/gRPC trace service.
func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.add("grpc", req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// serveHTTP implements OTLP/HTTP with protobuf bodies at /v1/traces.
func (c *collector) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.add("http/protobuf", &req)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (c *collector) add(protocol string, req *coltracepb.ExportTraceServiceRequest) {
	c.forward(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, fromOTLP(res, s))
				c.byProtocol[protocol]++
			}
		}
	}
}

// trace returns the spans received so far of the trace holding a span with attribute key=value.
func (c *collector) trace(key, value string) []tracing.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := ""
	for _, s := range c.spans {
		if s.Attributes[key] == value {
			id = s.TraceID
			break
		}
	}
	var out []tracing.Span
	for _, s := range c.spans {
		if id != "" && s.TraceID == id {
			out = append(out, s)
		}
	}
	return out
}

func (c *collector) protocols() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.byProtocol {
		out[k] = v
	}
	return out
}

func fromOTLP(resource map[string]string, s *tracepb.Span) tracing.Span {
	a := attrs(s.GetAttributes())
	for k, v := range resource {
		a["resource."+k] = v
	}
	kinds := map[tracepb.Span_SpanKind]string{
		tracepb.Span_SPAN_KIND_SERVER: "server", tracepb.Span_SPAN_KIND_CLIENT: "client",
		tracepb.Span_SPAN_KIND_PRODUCER: "producer", tracepb.Span_SPAN_KIND_CONSUMER: "consumer",
		tracepb.Span_SPAN_KIND_INTERNAL: "internal",
	}
	start := time.Unix(0, int64(s.GetStartTimeUnixNano()))
	return tracing.Span{
		TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentID: hex.EncodeToString(s.GetParentSpanId()), Service: resource["service.name"],
		Name: s.GetName(), Kind: kinds[s.GetKind()], Start: start,
		Duration:   time.Unix(0, int64(s.GetEndTimeUnixNano())).Sub(start),
		Error:      s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
		Attributes: a,
	}
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			out[kv.GetKey()] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			out[kv.GetKey()] = strconv.FormatBool(v.BoolValue)
		default:
			out[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return out
}

// forward sends the spans on to E2E_FORWARD_OTLP (an OTLP/gRPC host:port, such as a local
// Jaeger's 127.0.0.1:4317), when set: a way to look at the e2e platform's traces in a real
// backend by hand. Off in CI.
func (c *collector) forward(req *coltracepb.ExportTraceServiceRequest) {
	if c.upstream == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.upstream.Export(ctx, req)
}

// exportProtocol is how each process exports its spans: both OTLP transports are exercised.
var exportProtocol = map[string]string{
	"edge": "grpc", "orders": "grpc", "customers": "grpc", "inventory": "grpc",
	"payments": "http/protobuf", "notifications": "http/protobuf", "xds": "http/protobuf",
}

// withEnv is env with more's variables added (more wins).
func withEnv(env, more map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(more))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}
