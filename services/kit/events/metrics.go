package events

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// consumerMetrics count messages by outcome, labelled by stream and durable consumer.
type consumerMetrics struct {
	handled      *prometheus.CounterVec
	failed       *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	duration     *prometheus.HistogramVec
}

func newConsumerMetrics(reg prometheus.Registerer) *consumerMetrics {
	labels := []string{"stream", "consumer"}
	m := &consumerMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_handled_total",
			Help: "Event messages handled successfully and acknowledged.",
		}, labels),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_failed_total",
			Help: "Event handler failures (each one is redelivered or dead-lettered).",
		}, labels),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_dead_lettered_total",
			Help: "Event messages moved to the dead-letter stream.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "events_handler_duration_seconds",
			Help:    "Time an event handler took, whatever its result.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, labels),
	}
	if reg != nil {
		m.handled = register(reg, m.handled)
		m.failed = register(reg, m.failed)
		m.deadLettered = register(reg, m.deadLettered)
		m.duration = register(reg, m.duration)
	}
	return m
}

// register adds c to reg, or returns the collector already registered there, so that several
// consumers of one process share their metrics.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(c); errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}
