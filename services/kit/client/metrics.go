package client

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"mercato.dev/services/kit/telemetry"
)

type clientMetrics struct {
	calls        *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	breakerState *prometheus.GaugeVec
}

func newClientMetrics(reg prometheus.Registerer) *clientMetrics {
	m := &clientMetrics{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rpc_client_duration_seconds",
			Help:    "Time of an outbound RPC including retries, by dependency, procedure and code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"dependency", "procedure", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpc_client_retries_total",
			Help: "Retried outbound RPC attempts, by dependency and procedure.",
		}, []string{"dependency", "procedure"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rpc_client_breaker_state",
			Help: "Circuit breaker state by dependency: 0 closed, 1 half-open, 2 open.",
		}, []string{"dependency"}),
	}
	if reg != nil {
		m.calls = register(reg, m.calls)
		m.retries = register(reg, m.retries)
		m.breakerState = register(reg, m.breakerState)
	}
	return m
}

// register adds c to reg, or returns the collector already registered there, so that several
// factories of one process share their metrics.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(c); errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}

func (m *clientMetrics) interceptor(dep string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			start := time.Now()
			res, err := next(ctx, req)
			m.calls.WithLabelValues(dep, req.Spec().Procedure, telemetry.Code(err)).Observe(time.Since(start).Seconds())
			return res, err
		}
	})
}
