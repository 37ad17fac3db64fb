package client

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"connectrpc.com/connect"
)

// RetryPolicy bounds retries of idempotent calls. Zero values take the defaults in brackets.
type RetryPolicy struct {
	MaxAttempts int           // attempts including the first [3]
	BaseBackoff time.Duration // first backoff ceiling; doubles per attempt, full jitter [25ms]
	MaxBackoff  time.Duration // [1s]
	// Budget is the retry throttle of gRPC's design: a token bucket of BudgetTokens that each
	// failed attempt drains by 1 and each success refills by BudgetRatio; retries stop while it
	// is below half full, so an outage never multiplies load. [10 tokens, 0.1]
	BudgetTokens float64
	BudgetRatio  float64
}

func (p *RetryPolicy) setDefaults() {
	p.MaxAttempts = cmpOr(p.MaxAttempts, 3)
	p.BaseBackoff = cmpOr(p.BaseBackoff, 25*time.Millisecond)
	p.MaxBackoff = cmpOr(p.MaxBackoff, time.Second)
	p.BudgetTokens = cmpOr(p.BudgetTokens, 10)
	p.BudgetRatio = cmpOr(p.BudgetRatio, 0.1)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

type retrier struct {
	dep        string
	idempotent map[string]bool
	policy     RetryPolicy
	metrics    *clientMetrics

	mu     sync.Mutex
	tokens float64
}

func newRetrier(dep string, idempotent []string, p RetryPolicy, m *clientMetrics) *retrier {
	r := &retrier{dep: dep, idempotent: map[string]bool{}, policy: p, metrics: m, tokens: p.BudgetTokens}
	for _, proc := range idempotent {
		r.idempotent[proc] = true
	}
	return r
}

func (r *retrier) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !r.safeToRetry(req.Spec()) {
			return next(ctx, req)
		}
		for attempt := 1; ; attempt++ {
			res, err := next(ctx, req)
			r.record(err)
			if !retryable(err) || attempt >= r.policy.MaxAttempts || !r.allow() || !r.sleep(ctx, attempt) {
				return res, err
			}
			r.metrics.retries.WithLabelValues(r.dep, req.Spec().Procedure).Inc()
		}
	}
}

// safeToRetry: the dependency lists the procedure as idempotent, or its contract says so
// (generated clients carry the proto's idempotency_level in the call's Spec).
func (r *retrier) safeToRetry(spec connect.Spec) bool {
	return r.idempotent[spec.Procedure] || spec.IdempotencyLevel != connect.IdempotencyUnknown
}

func (r *retrier) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (r *retrier) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// retryable: only unavailable means "the call did not happen or may safely happen again";
// a breaker's fast failure is not retried (it would only fail fast again).
func retryable(err error) bool {
	return err != nil && connect.CodeOf(err) == connect.CodeUnavailable && !isBreakerOpen(err)
}

func (r *retrier) record(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if retryable(err) {
		r.tokens = max(r.tokens-1, 0)
		return
	}
	r.tokens = min(r.tokens+r.policy.BudgetRatio, r.policy.BudgetTokens)
}

func (r *retrier) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tokens > r.policy.BudgetTokens/2
}

// sleep waits a full-jitter backoff; false when the caller's deadline would end first.
func (r *retrier) sleep(ctx context.Context, attempt int) bool {
	ceiling := min(r.policy.BaseBackoff<<(attempt-1), r.policy.MaxBackoff)
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
