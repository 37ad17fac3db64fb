// Package ratelimit is Envoy's local rate limit filter (envoy.filters.http.local_ratelimit) for
// one configuration: a token bucket shared by every request the configuration applies to (a
// route's, a virtual host's or the filter's own). A request that finds the bucket empty is
// answered by the edge (429 unless configured otherwise; gRPC resource_exhausted when
// rate_limited_as_resource_exhausted is set, else Envoy's mapping).
package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"mercato.dev/edge/internal/headers"
)

// minFill is the shortest fill interval Envoy accepts.
const minFill = 50 * time.Millisecond

// Limiter is a compiled LocalRateLimit.
type Limiter struct {
	Status     int  // the answer to a limited request
	AsResource bool // gRPC resource_exhausted instead of unavailable
	Headers    headers.Ops
	enabled    bool // filter_enabled: take tokens at all
	enforced   bool // filter_enforced: refuse when none is left
	bucket     *bucket
}

// New compiles c. A configuration without a token bucket limits nothing (the filter's own, when
// routes bring theirs).
func New(c *localratelimitv3.LocalRateLimit) (*Limiter, error) {
	switch {
	case len(c.GetDescriptors()) > 0, len(c.GetRateLimits()) > 0, c.GetLocalClusterRateLimit() != nil:
		return nil, errors.New("local rate limit: descriptors and cluster-wide limits are not supported by the dev edge")
	case c.GetLocalRateLimitPerDownstreamConnection():
		return nil, errors.New("local rate limit: per-connection buckets are not supported by the dev edge")
	case c.GetStage() != 0:
		return nil, errors.New("local rate limit: stages are not supported by the dev edge")
	}
	l := &Limiter{Status: http.StatusTooManyRequests, AsResource: c.GetRateLimitedAsResourceExhausted()}
	if s := c.GetStatus(); s != nil {
		l.Status = int(s.GetCode())
	}
	var err error
	if l.enabled, err = percent(c.GetFilterEnabled()); err != nil {
		return nil, fmt.Errorf("filter_enabled: %w", err)
	}
	if l.enforced, err = percent(c.GetFilterEnforced()); err != nil {
		return nil, fmt.Errorf("filter_enforced: %w", err)
	}
	if l.Headers, err = headers.FromOptions(c.GetResponseHeadersToAdd(), nil); err != nil {
		return nil, err
	}
	if tb := c.GetTokenBucket(); tb != nil {
		fill := tb.GetFillInterval().AsDuration()
		if fill < minFill {
			return nil, fmt.Errorf("token_bucket.fill_interval %s is below %s", fill, minFill)
		}
		perFill := uint32(1)
		if tb.GetTokensPerFill() != nil {
			perFill = tb.GetTokensPerFill().GetValue()
		}
		l.bucket = &bucket{max: tb.GetMaxTokens(), perFill: perFill, fill: fill, tokens: tb.GetMaxTokens(), last: time.Now()}
	}
	return l, nil
}

// Allow takes a token for one request; false means the request must be refused.
func (l *Limiter) Allow() bool {
	if l == nil || l.bucket == nil || !l.enabled {
		return true
	}
	return l.bucket.take() || !l.enforced
}

// percent reads a runtime fraction as Envoy's default value: unset is 0 % (the filter's
// documented default), 100 % is on; a fraction in between would need sampling.
func percent(f *corev3.RuntimeFractionalPercent) (bool, error) {
	v := f.GetDefaultValue()
	switch {
	case v.GetNumerator() == 0:
		return false, nil
	case v.GetDenominator() == typev3.FractionalPercent_HUNDRED && v.GetNumerator() >= 100,
		v.GetDenominator() == typev3.FractionalPercent_TEN_THOUSAND && v.GetNumerator() >= 10_000,
		v.GetDenominator() == typev3.FractionalPercent_MILLION && v.GetNumerator() >= 1_000_000:
		return true, nil
	}
	return false, errors.New("only 0% or 100% is supported by the dev edge")
}

// bucket is a token bucket filled in whole steps, as Envoy's: perFill tokens every fill
// interval, never more than max.
type bucket struct {
	max, perFill uint32
	fill         time.Duration

	mu     sync.Mutex
	tokens uint32
	last   time.Time // the last fill step
}

func (b *bucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if steps := now.Sub(b.last) / b.fill; steps > 0 {
		b.last = b.last.Add(steps * b.fill)
		added := uint64(steps) * uint64(b.perFill)
		b.tokens = uint32(min(uint64(b.max), uint64(b.tokens)+added))
	}
	if b.tokens == 0 {
		return false
	}
	b.tokens--
	return true
}
