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
	redelivered  *prometheus.CounterVec
	pending      *prometheus.GaugeVec
	lag          *prometheus.HistogramVec
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
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_redeliveries_total",
			Help: "Deliveries of a message the consumer had been given before (a failed, crashed or timed-out attempt).",
		}, labels),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "events_consumer_pending_messages",
			Help: "Consumer lag: messages in the stream not yet delivered to the consumer, as of its last delivery.",
		}, labels),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "events_consumer_lag_seconds",
			Help:    "Time from the stream storing a message to the consumer starting to handle it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, labels),
	}
	if reg != nil {
		m.handled = register(reg, m.handled)
		m.failed = register(reg, m.failed)
		m.deadLettered = register(reg, m.deadLettered)
		m.duration = register(reg, m.duration)
		m.redelivered = register(reg, m.redelivered)
		m.pending = register(reg, m.pending)
		m.lag = register(reg, m.lag)
	}
	return m
}

// touch creates the consumer's counter series at zero.
func (m *consumerMetrics) touch(labels prometheus.Labels) {
	for _, c := range []*prometheus.CounterVec{m.handled, m.failed, m.deadLettered, m.redelivered} {
		c.With(labels)
	}
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
