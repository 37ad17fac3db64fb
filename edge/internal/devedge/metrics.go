package devedge

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mercato.dev/edge/internal/listener"
	"mercato.dev/services/kit/telemetry"
)

// metrics are the edge's own Prometheus series, next to the kit's process metrics.
type metrics struct {
	*flagMetrics
	requests  *prometheus.HistogramVec
	observers sync.Map // requestKey → prometheus.Observer: the labels hashed once, not per request
	overflows *prometheus.CounterVec
	retries   *prometheus.CounterVec
	ejections *prometheus.CounterVec
	updates   *prometheus.CounterVec
}

func newMetrics(m *telemetry.Metrics) *metrics {
	mt := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edge_request_duration_seconds",
			Help:    "Requests handled by the edge, by upstream cluster (empty: no route) and HTTP status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"cluster", "code"}),
		overflows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edge_upstream_overflow_total",
			Help: "Requests or retries refused by a cluster's circuit breaker, by breaker.",
		}, []string{"cluster", "breaker"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edge_upstream_retries_total",
			Help: "Retries sent to a cluster.",
		}, []string{"cluster"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edge_outlier_ejections_total",
			Help: "Endpoints ejected by outlier detection.",
		}, []string{"cluster"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edge_xds_updates_total",
			Help: "xDS responses, by resource type and result (ack, nack).",
		}, []string{"type", "result"}),
	}
	m.Registry.MustRegister(mt.requests, mt.overflows, mt.retries, mt.ejections, mt.updates,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "edge_connections_refused_total",
			Help: "Downstream connections closed at once by a listener's connection_limit.",
		}, func() float64 { return float64(listener.RefusedConnections()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "edge_http2_rapid_reset_total",
			Help: "HTTP/2 connections sent GOAWAY and closed for resetting too many of their streams.",
		}, func() float64 { return float64(listener.AbusiveConnections()) }))
	mt.flagMetrics = newFlagMetrics(m.Registry)
	return mt
}

type requestKey struct {
	cluster string
	status  int
}

func (m *metrics) Request(cluster string, status int, elapsed time.Duration) {
	k := requestKey{cluster, status}
	o, ok := m.observers.Load(k)
	if !ok {
		o, _ = m.observers.LoadOrStore(k, m.requests.WithLabelValues(cluster, strconv.Itoa(status)))
	}
	o.(prometheus.Observer).Observe(elapsed.Seconds())
}

func (m *metrics) Overflow(cluster, breaker string) {
	m.overflows.WithLabelValues(cluster, breaker).Inc()
}
func (m *metrics) Retry(cluster string)      { m.retries.WithLabelValues(cluster).Inc() }
func (m *metrics) Ejected(cluster, _ string) { m.ejections.WithLabelValues(cluster).Inc() }

func (m *metrics) update(typeURL string, err error) {
	result := "ack"
	if err != nil {
		result = "nack"
	}
	m.updates.WithLabelValues(typeURL, result).Inc()
}
