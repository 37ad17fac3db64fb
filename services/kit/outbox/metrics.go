package outbox

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// relayMetrics are the relay's Prometheus metrics.
type relayMetrics struct {
	backlog    prometheus.Gauge
	oldestAge  prometheus.Gauge
	published  prometheus.Counter
	duplicates prometheus.Counter
	errors     prometheus.Counter
}

func newRelayMetrics(reg prometheus.Registerer) *relayMetrics {
	m := &relayMetrics{
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_backlog_events",
			Help: "Outbox events not yet sent (pending or claimed).",
		}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_oldest_pending_age_seconds",
			Help: "Age of the oldest unsent outbox event; 0 when none.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_published_total",
			Help: "Outbox events published and acknowledged by JetStream (duplicates included).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_publish_duplicates_total",
			Help: "Publishes JetStream acknowledged as duplicates of a stored event (a republish after a crash or a lost ack).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_publish_errors_total",
			Help: "Outbox events whose publish failed; each is retried.",
		}),
	}
	if reg != nil {
		m.backlog = register(reg, m.backlog)
		m.oldestAge = register(reg, m.oldestAge)
		m.published = register(reg, m.published)
		m.duplicates = register(reg, m.duplicates)
		m.errors = register(reg, m.errors)
	}
	return m
}

// register adds c to reg, or returns the collector already registered there, so that several
// relays of one process share their metrics.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(c); errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}
