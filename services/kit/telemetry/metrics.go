package telemetry

import (
	"context"
	"errors"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is a process's Prometheus registry with the RPC metrics every service exposes.
type Metrics struct {
	Registry *prometheus.Registry
	served   *prometheus.HistogramVec
	refused  *prometheus.CounterVec
}

// NewMetrics returns a registry holding the Go runtime and process collectors and the server
// RPC metrics.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		served: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rpc_server_duration_seconds",
			Help:    "Time to handle an RPC, by procedure and Connect code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"procedure", "code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpc_server_refused_total",
			Help: "Calls refused by the authorization policy, by procedure.",
		}, []string{"procedure"}),
	}
	reg.MustRegister(m.served, m.refused)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Refused counts one call refused by authorization.
func (m *Metrics) Refused(procedure string) { m.refused.WithLabelValues(procedure).Inc() }

// ServerInterceptor records the duration and outcome of every unary RPC a server handles.
func (m *Metrics) ServerInterceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			start := time.Now()
			res, err := next(ctx, req)
			m.served.WithLabelValues(req.Spec().Procedure, Code(err)).Observe(time.Since(start).Seconds())
			return res, err
		}
	})
}

// Code names the Connect code of err, "ok" for nil.
func Code(err error) string {
	if err == nil {
		return "ok"
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code().String()
	}
	return connect.CodeOf(err).String()
}
