package policy

// Tracing is the edge's tracing (tracing in routes.yaml): a server span per request, sent by
// Envoy's OpenTelemetry tracer to CollectorCluster. Off when CollectorCluster is empty.
type Tracing struct {
	// CollectorCluster is the OTLP/gRPC collector cluster Envoy exports to. It is a cluster of
	// the edge's bootstrap (edge/envoy.yaml), not of this file: the collector is part of the
	// deployment, not of the routing policy.
	CollectorCluster string `yaml:"collector_cluster"`
	// RandomSampling is the whole percentage of requests arriving without a trace context that
	// start a sampled trace [100]. A request with a W3C traceparent keeps its sampling decision.
	RandomSampling uint32 `yaml:"random_sampling"`
}

// tracing validates the tracing block.
func (v *validator) tracing(t Tracing) {
	if t.CollectorCluster == "" {
		return
	}
	if !dnsName(t.CollectorCluster) && !identifierName(t.CollectorCluster) {
		v.fail("tracing.collector_cluster", "%q is not a cluster name", t.CollectorCluster)
	}
	if t.RandomSampling > 100 {
		v.fail("tracing.random_sampling", "%v is not a percentage in [0, 100]", t.RandomSampling)
	}
}

// identifierName: letters, digits, '_', '-' and '.', as Envoy cluster names go.
func identifierName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}
