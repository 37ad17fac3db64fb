package controlplane

import (
	"github.com/prometheus/client_golang/prometheus"

	"mercato.dev/xds/internal/ads"
)

// Metrics are the control plane's Prometheus metrics.
type Metrics struct {
	routesValid  prometheus.Gauge
	reloads      *prometheus.CounterVec
	versionInfo  *prometheus.GaugeVec
	appliedTotal *prometheus.CounterVec
	buildSeconds prometheus.Histogram
	buildErrors  prometheus.Counter
	endpoints    *prometheus.GaugeVec
}

// NewMetrics registers the metrics on reg (nil: a private registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		routesValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xds_routes_valid", Help: "1 when the routes file on disk is the one served, 0 while it is rejected.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xds_routes_reloads_total", Help: "Routes file changes, by result (applied, rejected).",
		}, []string{"result"}),
		versionInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xds_snapshot_version_info", Help: "The served snapshot version of each node kind (value 1).",
		}, []string{"kind", "version"}),
		appliedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xds_snapshots_applied_total", Help: "Snapshot versions served, by node kind.",
		}, []string{"kind"}),
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "xds_snapshot_build_seconds", Help: "Time to build and validate both snapshots.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		buildErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xds_snapshot_build_errors_total", Help: "Snapshots rejected by validation or consistency checks.",
		}),
		endpoints: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xds_endpoints", Help: "Registered live endpoints, by cluster.",
		}, []string{"cluster"}),
	}
	reg.MustRegister(m.routesValid, m.reloads, m.versionInfo, m.appliedTotal, m.buildSeconds, m.buildErrors, m.endpoints)
	return m
}

func (m *Metrics) applied(kind ads.Kind, version string) {
	m.versionInfo.DeletePartialMatch(prometheus.Labels{"kind": string(kind)})
	m.versionInfo.WithLabelValues(string(kind), version).Set(1)
	m.appliedTotal.WithLabelValues(string(kind)).Inc()
}
