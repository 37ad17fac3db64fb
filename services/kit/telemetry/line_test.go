package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"mercato.dev/services/kit/telemetry"
)

// hostile are strings every escaping rule of slog's JSON handler applies to.
var hostile = []string{"", "plain", `a"b\c`, "tab\there\nnl\rcr\x00\x1f\x7f", "<script>&amp;</script>",
	"é ü 日本", "bad \xff\xfe utf8", "sep \u2028 \u2029 end", "trunc \xe6\x97", strings.Repeat("x", 700)}

// TestAppendJSONStringIsSlogs: the string escaping is slog's, byte for byte.
func TestAppendJSONStringIsSlogs(t *testing.T) {
	for _, s := range hostile {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropBuiltins})).Info("", "k", s)
		want := strings.TrimSuffix(strings.TrimPrefix(buf.String(), `{"msg":"","k":`), "}\n")
		if got := string(telemetry.AppendJSONString(nil, s)); got != want {
			t.Errorf("%q:\n got %s\nwant %s (slog: %s)", s, got, want, buf.String())
		}
	}
}

// dropBuiltins leaves the msg key only, so that the attribute's encoding can be cut out.
func dropBuiltins(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
		return slog.Attr{}
	}
	return a
}

// TestAppendJSONFloatIsEncodingJSONs: floats are written as encoding/json writes them (which
// is what slog's JSON handler calls), in both the decimal and the exponent form.
func TestAppendJSONFloatIsEncodingJSONs(t *testing.T) {
	floats := []float64{0, 0.001, 0.5, 1, 1.234, 12.345, 999.999, 1234.5, 123456.789, 1e-6, 9.99e-7, 1e-7, 2.5e-9,
		1.5e-300, 5e-324, 1e20, 999999999999999999999, 1e21, 3.4e22, 1.7976931348623157e308, -0.001, -1.5, -2.5e-9, -1e21}
	for _, f := range floats {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := telemetry.AppendJSONFloat([]byte("x"), f); string(got) != "x"+string(want) {
			t.Errorf("%v: got %s, want %s", f, got[1:], want)
		}
	}
}

// TestLineIsNewLoggers: AppendLineStart, the fields and AppendLineEnd make the line NewLogger
// writes for the same record, with and without a valid span, in any time zone and level.
func TestLineIsNewLoggers(t *testing.T) {
	valid := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	})
	traceOnly := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}}) // not valid: no span ID
	times := []time.Time{
		time.Date(2026, 12, 7, 3, 14, 12, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC),
	}
	levels := []slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelDebug, slog.LevelInfo + 2}
	n := 0
	for i, s := range hostile {
		for j, sc := range []trace.SpanContext{valid, {}, traceOnly} {
			tm, level := times[(i+j)%len(times)], levels[(i+j)%len(levels)]
			f := float64(i*1000+j) / 1000
			var buf bytes.Buffer
			logger := telemetry.NewLogger(&buf, hostile[(i+1)%len(hostile)], slog.LevelDebug)
			r := slog.NewRecord(tm, level, s, 0)
			r.AddAttrs(slog.String("field", s), slog.Float64("number", f))
			_ = logger.Handler().Handle(trace.ContextWithSpanContext(context.Background(), sc), r)

			b := telemetry.AppendLineStart(nil, tm, level, s, hostile[(i+1)%len(hostile)])
			b = append(b, `,"field":`...)
			b = telemetry.AppendJSONString(b, s)
			b = append(b, `,"number":`...)
			b = telemetry.AppendJSONFloat(b, f)
			b = telemetry.AppendLineEnd(b, sc)
			if got, want := string(b), buf.String(); got != want {
				t.Fatalf("record %d/%d:\n got %s\nwant %s", i, j, got, want)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no record compared")
	}
}
