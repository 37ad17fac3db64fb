package accesslog_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"mercato.dev/edge/internal/accesslog"
	"mercato.dev/services/kit/telemetry"
)

// viaSlog is the access line as the process's slog logger writes it (the edge's path before
// this package, and still its path without an AccessLog).
func viaSlog(rec *accesslog.Record) string {
	var buf bytes.Buffer
	logger := telemetry.NewLogger(&buf, "edge", slog.LevelInfo)
	ctx := trace.ContextWithSpanContext(context.Background(), rec.Span)
	r := slog.NewRecord(rec.Time, slog.LevelInfo, "access", 0)
	r.AddAttrs(
		slog.String("method", rec.Method), slog.String("path", rec.Path),
		slog.String("protocol", rec.Protocol), slog.Int("status", rec.Status),
		slog.String("response_flags", rec.ResponseFlags), slog.String("upstream_cluster", rec.UpstreamCluster),
		slog.Float64("duration_ms", rec.DurationMS),
		slog.String("request_id", rec.RequestID),
		slog.String("downstream", rec.Downstream), slog.String("user_agent", rec.UserAgent))
	_ = logger.Handler().Handle(ctx, r)
	return buf.String()
}

// TestAppendIsSlogsLine: the hand-written encoder writes byte for byte what slog's JSON handler
// (with the kit's trace IDs and service attribute) writes, for hostile strings and every float
// form too.
func TestAppendIsSlogsLine(t *testing.T) {
	span := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	})
	strs := []string{"", "/mercato.inventory.v1.InventoryService/GetProduct", `a"b\c`, "tab\there\nnl\rcr\x00\x1f\x7f",
		"<script>&amp;</script>", "é ü 日本", "bad \xff\xfe utf8", "sep \u2028 \u2029 end", strings.Repeat("x", 700)}
	floats := []float64{0, 0.001, 0.5, 1, 1.234, 12.345, 999.999, 123456.789, 1e-7, 2.5e-9, 1e21, 3.4e22, -1.5, 1e20}
	times := []time.Time{
		time.Date(2026, 12, 7, 3, 14, 12, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC),
	}
	n := 0
	for i, s := range strs {
		for j, f := range floats {
			rec := &accesslog.Record{
				Time: times[(i+j)%len(times)], Method: "POST", Path: s, Protocol: "HTTP/2.0", Status: 200 + j,
				ResponseFlags: "-", UpstreamCluster: strs[(i+1)%len(strs)], DurationMS: f, RequestID: "0123abcd",
				Downstream: "127.0.0.1:5555", UserAgent: strs[(i+j)%len(strs)],
			}
			if j%2 == 0 {
				rec.Span = span
			}
			got, want := string(accesslog.Append(nil, "edge", rec)), viaSlog(rec)
			if got != want {
				t.Fatalf("record %d/%d:\n got %s\nwant %s", i, j, got, want)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no record compared")
	}
}

// BenchmarkAccessLine: one access line, hand-encoded vs through slog, to a discarding writer.
func BenchmarkAccessLine(b *testing.B) {
	rec := &accesslog.Record{Time: time.Now(), Method: "POST", Path: "/mercato.inventory.v1.InventoryService/GetProduct",
		Protocol: "HTTP/2.0", Status: 200, ResponseFlags: "-", UpstreamCluster: "inventory", DurationMS: 1.234,
		RequestID: "5f0c6e0d6c0b4f3e9a8b7c6d5e4f3a2b", Downstream: "127.0.0.1:54321", UserAgent: "connect-go/1.21.1 (go1.26.8)",
		Span: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}})}
	b.Run("accesslog", func(b *testing.B) {
		l := accesslog.New(io.Discard, "edge")
		b.ReportAllocs()
		for b.Loop() {
			l.Log(rec)
		}
	})
	b.Run("slog", func(b *testing.B) {
		logger := telemetry.NewLogger(io.Discard, "edge", slog.LevelInfo)
		ctx := trace.ContextWithSpanContext(context.Background(), rec.Span)
		b.ReportAllocs()
		for b.Loop() {
			logger.LogAttrs(ctx, slog.LevelInfo, "access",
				slog.String("method", rec.Method), slog.String("path", rec.Path),
				slog.String("protocol", rec.Protocol), slog.Int("status", rec.Status),
				slog.String("response_flags", rec.ResponseFlags), slog.String("upstream_cluster", rec.UpstreamCluster),
				slog.Float64("duration_ms", rec.DurationMS),
				slog.String("request_id", rec.RequestID),
				slog.String("downstream", rec.Downstream), slog.String("user_agent", rec.UserAgent))
		}
	})
}
