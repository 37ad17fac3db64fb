package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

var testSpan = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xab}, SpanID: trace.SpanID{0xcd}, TraceFlags: trace.FlagsSampled})

// loggedCall is a call through the access log interceptor, answering err.
func loggedCall(w io.Writer, level slog.Level, err error) func() {
	call := accessLog(telemetry.NewLogger(w, "orders", level)).WrapUnary(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
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

// BenchmarkAccessLog is the cost of one access line (JSON, to a discarding writer) next to
// the interceptor with the level above info.
func BenchmarkAccessLog(b *testing.B) {
	for _, v := range []struct {
		name  string
		level slog.Level
	}{{"info", slog.LevelInfo}, {"warn", slog.LevelWarn}} {
		b.Run(v.name, func(b *testing.B) {
			call := loggedCall(io.Discard, v.level, nil)
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
	}
}
