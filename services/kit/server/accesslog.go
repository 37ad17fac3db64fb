package server

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

// accessLog writes one line per RPC at info level (LOG_LEVEL=warn silences them): procedure,
// Connect code, duration, the caller's SPIFFE ID, and — from the context — the trace and span
// IDs. It runs inside the tracing interceptor, so the IDs are the server span's.
func accessLog(logger *slog.Logger) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if !logger.Enabled(ctx, slog.LevelInfo) {
				return next(ctx, req)
			}
			start := time.Now()
			res, err := next(ctx, req)
			caller, _ := identity.Caller(ctx)
			logger.LogAttrs(ctx, slog.LevelInfo, "rpc",
				slog.String("procedure", req.Spec().Procedure),
				slog.String("code", telemetry.Code(err)),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("caller", caller.String()),
				slog.String("protocol", req.Peer().Protocol))
			return res, err
		}
	})
}
