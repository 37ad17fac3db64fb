package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/sony/gobreaker/v2"
)

// BreakerPolicy configures a dependency's circuit breaker. Zero values take the defaults.
type BreakerPolicy struct {
	Failures uint32        // consecutive transport-class failures that open it [5]
	OpenFor  time.Duration // how long it fails fast before letting a probe through [5s]
	Probes   uint32        // calls let through while half-open; all must succeed to close [1]
}

func (p *BreakerPolicy) setDefaults() {
	p.Failures = cmpOr(p.Failures, 5)
	p.OpenFor = cmpOr(p.OpenFor, 5*time.Second)
	p.Probes = cmpOr(p.Probes, 1)
}

// ErrBreakerOpen is wrapped in the unavailable error of a call refused by an open breaker.
var ErrBreakerOpen = errors.New("circuit breaker open")

// Breaker is one dependency's circuit breaker.
type Breaker struct {
	name string
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]
}

func newBreaker(name string, p BreakerPolicy, logger *slog.Logger, m *clientMetrics) *Breaker {
	st := gobreaker.Settings{
		Name:        name,
		MaxRequests: p.Probes,
		Timeout:     p.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= p.Failures },
		OnStateChange: func(name string, from, to gobreaker.State) {
			logger.Warn("circuit breaker changed state", "dependency", name, "from", from.String(), "to", to.String())
			m.breakerState.WithLabelValues(name).Set(float64(to))
		},
	}
	m.breakerState.WithLabelValues(name).Set(0) // closed: the series exists before any change
	return &Breaker{name: name, cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](st)}
}

// State is "closed", "half-open" or "open".
func (b *Breaker) State() string { return b.cb.State().String() }

func (b *Breaker) interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			done, err := b.cb.Allow()
			if err != nil {
				return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: %w (%v)", b.name, ErrBreakerOpen, err))
			}
			res, err := next(ctx, req)
			done(breakerOutcome(ctx, err))
			return res, err
		}
	})
}

// breakerOutcome is the error the breaker counts: only transport-class failures of the
// dependency (unavailable, deadline exceeded, unknown transport errors). Client errors and
// business outcomes are successes as far as the dependency's health is concerned, and so is a
// call the caller itself canceled.
func breakerOutcome(ctx context.Context, err error) error {
	if err == nil || errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeUnknown:
		return err
	}
	return nil
}

func isBreakerOpen(err error) bool { return errors.Is(err, ErrBreakerOpen) }
