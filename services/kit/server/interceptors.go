package server

import (
	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"connectrpc.com/validate"

	"mercato.dev/services/kit/telemetry"
)

// handlerInterceptors run outermost first: metrics see every outcome, including validation
// failures; tracing continues the caller's trace; the access log line carries the server
// span's trace ID; protovalidate rejects an invalid request with invalid_argument and its
// field paths before the handler runs.
func handlerInterceptors(m *telemetry.Metrics, accessLog connect.Interceptor) []connect.Interceptor {
	list := []connect.Interceptor{m.ServerInterceptor()}
	if otel, err := telemetry.RPCTracing(otelconnect.WithTrustRemote(), otelconnect.WithoutMetrics()); err == nil {
		list = append(list, otel)
	}
	return append(list, accessLog, validate.NewInterceptor())
}
