package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

var testSpan = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xab}, SpanID: trace.SpanID{0xcd}, TraceFlags: trace.FlagsSampled})

// loggedCall is a call through the access log interceptor, answering err, with the access
// lines through the logger (on w).
func loggedCall(w io.Writer, level slog.Level, err error) func() {
	return loggedCallTo(w, nil, level, err)
}

// loggedCallTo is loggedCall with the access lines hand-encoded to access (nil: through the
// logger).
func loggedCallTo(w, access io.Writer, level slog.Level, err error) func() {
	call := accessLog(telemetry.NewLogger(w, "orders", level), "orders", access).WrapUnary(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return nil, err
	})
	ctx := identity.WithCaller(trace.ContextWithSpanContext(context.Background(), testSpan), identity.Edge)
	req := connect.NewRequest(&struct{}{})
	return func() { _, _ = call(ctx, req) }
}

// TestAccessLog: one line per call with the code, caller and trace IDs; none above info.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	loggedCall(&buf, slog.LevelInfo, connect.NewError(connect.CodeNotFound, errors.New("x")))()
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %q", err, buf.String())
	}
	for k, want := range map[string]any{"msg": "rpc", "code": "not_found", "caller": identity.Edge.String(),
		"trace_id": testSpan.TraceID().String(), "span_id": testSpan.SpanID().String(), "service": "orders"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v (%s)", k, rec[k], want, buf.String())
		}
	}
	if _, ok := rec["duration_ms"].(float64); !ok {
		t.Errorf("no duration_ms: %s", buf.String())
	}
	buf.Reset()
	loggedCall(&buf, slog.LevelWarn, nil)()
	if buf.Len() != 0 {
		t.Errorf("LOG_LEVEL=warn still logs: %s", buf.String())
	}
}

// TestAccessLogHandEncoded: with an access writer the interceptor writes the line the logger
// would have (but for the time and the duration), to that writer and not the logger's, and
// still none above info.
func TestAccessLogHandEncoded(t *testing.T) {
	t.Parallel()
	vary := regexp.MustCompile(`"time":"[^"]*"|"duration_ms":[0-9.e-]+`)
	for _, err := range []error{nil, connect.NewError(connect.CodeNotFound, errors.New("x"))} {
		var viaSlog, logs, access bytes.Buffer
		loggedCall(&viaSlog, slog.LevelInfo, err)()
		loggedCallTo(&logs, &access, slog.LevelInfo, err)()
		if logs.Len() != 0 {
			t.Errorf("the access line went to the logger too: %s", logs.String())
		}
		got, want := vary.ReplaceAllString(access.String(), "…"), vary.ReplaceAllString(viaSlog.String(), "…")
		if got != want || strings.Count(got, "…") != 2 {
			t.Errorf("hand-encoded line\n got %s\nwant %s", access.String(), viaSlog.String())
		}
		access.Reset()
		loggedCallTo(&logs, &access, slog.LevelWarn, err)()
		if access.Len() != 0 || logs.Len() != 0 {
			t.Errorf("LOG_LEVEL=warn still logs: %s%s", access.String(), logs.String())
		}
	}
}

// TestAppendRPCLineIsSlogs: appendRPCLine writes byte for byte what the slog path (the same
// fields through telemetry.NewLogger) writes: hostile strings, every float form, with and
// without a valid span.
func TestAppendRPCLineIsSlogs(t *testing.T) {
	t.Parallel()
	spans := []trace.SpanContext{testSpan, {}, trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}})}
	strs := []string{"", "/mercato.inventory.v1.InventoryService/GetProduct", identity.Edge.String(), `a"b\c`,
		"tab\there\nnl\rcr\x00\x1f\x7f", "<script>&amp;</script>", "é ü 日本", "bad \xff\xfe utf8", "sep \u2028 \u2029 end"}
	durations := []float64{0, 0.001, 0.5, 1.234, 1234.5, 999999.999, 1e-7, 1e21}
	times := []time.Time{
		time.Date(2026, 12, 7, 3, 14, 12, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC),
	}
	n := 0
	for i, s := range strs {
		for j, d := range durations {
			l := &rpcLine{
				Time: times[(i+j)%len(times)], Procedure: s, Code: strs[(i+1)%len(strs)], DurationMS: d,
				Caller: strs[(i+j)%len(strs)], Protocol: strs[(i+2)%len(strs)], Span: spans[(i+j)%len(spans)],
			}
			service := strs[(i+3)%len(strs)]
			var buf bytes.Buffer
			r := slog.NewRecord(l.Time, slog.LevelInfo, "rpc", 0)
			a := l.attrs()
			r.AddAttrs(a[:]...)
			_ = telemetry.NewLogger(&buf, service, slog.LevelInfo).Handler().Handle(trace.ContextWithSpanContext(context.Background(), l.Span), r)
			if got, want := string(appendRPCLine(nil, service, l)), buf.String(); got != want {
				t.Fatalf("line %d/%d:\n got %s\nwant %s", i, j, got, want)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no line compared")
	}
}

// BenchmarkAccessLog is the cost of one access line (JSON, to a discarding writer) through slog
// and hand-encoded, next to the interceptor with the level above info.
func BenchmarkAccessLog(b *testing.B) {
	for _, v := range []struct {
		name   string
		access io.Writer
		level  slog.Level
	}{{"slog", nil, slog.LevelInfo}, {"hand", io.Discard, slog.LevelInfo}, {"warn", nil, slog.LevelWarn}} {
		b.Run(v.name, func(b *testing.B) {
			call := loggedCallTo(io.Discard, v.access, v.level, nil)
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
	}
}
