package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

// accessLog writes one line per RPC at info level (LOG_LEVEL=warn silences them): procedure,
// Connect code, duration, the caller's SPIFFE ID, and — from the context — the trace and span
// IDs. It runs inside the tracing interceptor, so the IDs are the server span's.
//
// With w nil the line goes through logger. Otherwise logger only decides whether the line is
// written (its level), and the line is hand-encoded — byte for byte what logger would write
// when it comes from telemetry.NewLogger(…, service, …) — and handed to w in one Write, without
// slog's generic encoder (profiles put 1–6 % of a service's CPU in it and in the one write(2)
// per call to stderr that goes with it, which w, a telemetry.Buffered, saves too).
func accessLog(logger *slog.Logger, service string, w io.Writer) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if !logger.Enabled(ctx, slog.LevelInfo) {
				return next(ctx, req)
			}
			start := time.Now()
			res, err := next(ctx, req)
			caller, _ := identity.Caller(ctx)
			l := rpcLine{
				Procedure: req.Spec().Procedure, Code: telemetry.Code(err),
				DurationMS: float64(time.Since(start).Microseconds()) / 1000,
				Caller:     caller.String(), Protocol: req.Peer().Protocol,
			}
			if w == nil {
				a := l.attrs()
				logger.LogAttrs(ctx, slog.LevelInfo, "rpc", a[:]...)
				return res, err
			}
			l.Time, l.Span = time.Now(), trace.SpanContextFromContext(ctx)
			writeRPCLine(w, service, &l)
			return res, err
		}
	})
}

// rpcLine is one call's access line.
type rpcLine struct {
	Time       time.Time // hand-encoded path only (slog stamps its own)
	Procedure  string
	Code       string
	DurationMS float64 // finite
	Caller     string
	Protocol   string
	Span       trace.SpanContext // hand-encoded path only (slog's comes from the context)
}

// attrs are the line's fields as the slog path logs them; appendRPCLine writes the same.
func (l *rpcLine) attrs() [5]slog.Attr {
	return [5]slog.Attr{
		slog.String("procedure", l.Procedure),
		slog.String("code", l.Code),
		slog.Float64("duration_ms", l.DurationMS),
		slog.String("caller", l.Caller),
		slog.String("protocol", l.Protocol),
	}
}

var rpcLines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeRPCLine encodes l into a pooled buffer and writes it with one Write.
func writeRPCLine(w io.Writer, service string, l *rpcLine) {
	bp := rpcLines.Get().(*[]byte)
	b := appendRPCLine((*bp)[:0], service, l)
	_, _ = w.Write(b)
	*bp = b
	rpcLines.Put(bp)
}

// appendRPCLine appends l as telemetry.NewLogger(…, service, …) writes the slog path's record:
// time, level, msg, service, the fields in the same order, then the trace and span IDs; and a
// newline.
func appendRPCLine(b []byte, service string, l *rpcLine) []byte {
	b = telemetry.AppendLineStart(b, l.Time, slog.LevelInfo, "rpc", service)
	b = append(b, `,"procedure":`...)
	b = telemetry.AppendJSONString(b, l.Procedure)
	b = append(b, `,"code":`...)
	b = telemetry.AppendJSONString(b, l.Code)
	b = append(b, `,"duration_ms":`...)
	b = telemetry.AppendJSONFloat(b, l.DurationMS)
	b = append(b, `,"caller":`...)
	b = telemetry.AppendJSONString(b, l.Caller)
	b = append(b, `,"protocol":`...)
	b = telemetry.AppendJSONString(b, l.Protocol)
	return telemetry.AppendLineEnd(b, l.Span)
}
