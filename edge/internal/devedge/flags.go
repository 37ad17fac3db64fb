package devedge

import "github.com/prometheus/client_golang/prometheus"

// flagMetrics counts Envoy's response flags of the edge's local replies.
type flagMetrics struct{ flags *prometheus.CounterVec }

func newFlagMetrics(reg prometheus.Registerer) *flagMetrics {
	f := &flagMetrics{flags: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edge_response_flags_total",
		Help: "Responses the edge answered itself, by upstream cluster and Envoy response flag (NR no route, UO overflow, UH no healthy upstream, UT timeout, UF connect failure, UC reset, DC client gone).",
	}, []string{"cluster", "flag"})}
	reg.MustRegister(f.flags)
	return f
}

// ResponseFlag implements hcm.FlagObserver.
func (f *flagMetrics) ResponseFlag(cluster, flag string) {
	f.flags.WithLabelValues(cluster, flag).Inc()
}
