package upstream

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// RetryOn is the set of Envoy retry_on conditions of a policy.
type RetryOn uint32

// The retry_on conditions the dev edge implements.
const (
	On5xx RetryOn = 1 << iota
	OnGatewayError
	OnReset
	OnConnectFailure
	OnRetriable4xx
	OnRefusedStream
	OnRetriableStatusCodes
	OnResetBeforeRequest
	OnGRPCCancelled
	OnGRPCDeadlineExceeded
	OnGRPCInternal
	OnGRPCResourceExhausted
	OnGRPCUnavailable
)

var retryOnNames = map[string]RetryOn{
	"5xx":                    On5xx,
	"gateway-error":          OnGatewayError,
	"reset":                  OnReset,
	"reset-before-request":   OnResetBeforeRequest,
	"connect-failure":        OnConnectFailure,
	"retriable-4xx":          OnRetriable4xx,
	"refused-stream":         OnRefusedStream,
	"retriable-status-codes": OnRetriableStatusCodes,
	"cancelled":              OnGRPCCancelled,
	"deadline-exceeded":      OnGRPCDeadlineExceeded,
	"internal":               OnGRPCInternal,
	"resource-exhausted":     OnGRPCResourceExhausted,
	"unavailable":            OnGRPCUnavailable,
	// Conditions that cannot occur at the dev edge (no HTTP/3, no rate-limit filter).
	"http3-post-connect-failure": 0,
	"envoy-ratelimited":          0,
}

// RetryPolicy is a route's compiled retry_policy.
type RetryPolicy struct {
	On            RetryOn
	StatusCodes   []int // for retriable-status-codes
	NumRetries    int
	PerTryTimeout time.Duration // 0: none beyond the route's timeout
	BaseInterval  time.Duration
	MaxInterval   time.Duration
}

// NewRetryPolicy compiles p; nil means no retries.
func NewRetryPolicy(p *routev3.RetryPolicy) (*RetryPolicy, error) {
	if p == nil {
		return nil, nil
	}
	switch {
	case len(p.GetRetriableHeaders()) > 0, len(p.GetRetriableRequestHeaders()) > 0:
		return nil, errors.New("retry_policy: retriable headers are not supported by the dev edge")
	case p.GetRateLimitedRetryBackOff() != nil:
		return nil, errors.New("retry_policy: rate_limited_retry_back_off is not supported by the dev edge")
	case p.GetRetryPriority() != nil:
		return nil, errors.New("retry_policy: retry_priority is not supported by the dev edge")
	}
	rp := &RetryPolicy{
		NumRetries:    1, // Envoy's default when a policy has no num_retries
		PerTryTimeout: p.GetPerTryTimeout().AsDuration(),
		BaseInterval:  25 * time.Millisecond,
	}
	if n := p.GetNumRetries(); n != nil {
		rp.NumRetries = int(n.GetValue())
	}
	for _, c := range p.GetRetriableStatusCodes() {
		rp.StatusCodes = append(rp.StatusCodes, int(c))
	}
	for name := range strings.SplitSeq(p.GetRetryOn(), ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		bit, ok := retryOnNames[name]
		if !ok {
			return nil, fmt.Errorf("retry_policy: retry_on %q is not supported by the dev edge", name)
		}
		rp.On |= bit
	}
	if b := p.GetRetryBackOff(); b != nil {
		rp.BaseInterval = b.GetBaseInterval().AsDuration()
		rp.MaxInterval = b.GetMaxInterval().AsDuration()
	}
	if rp.MaxInterval == 0 {
		rp.MaxInterval = 10 * rp.BaseInterval
	}
	if rp.MaxInterval < rp.BaseInterval {
		return nil, errors.New("retry_policy: max_interval is below base_interval")
	}
	return rp, nil
}

// backoff is Envoy's fully jittered exponential backoff before retry n (1-based).
func (p *RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.BaseInterval << min(n-1, 30)
	if ceiling <= 0 || ceiling > p.MaxInterval {
		ceiling = p.MaxInterval
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// retryResponse reports whether a response (its headers) calls for a retry.
func (p *RetryPolicy) retryResponse(res *http.Response) bool {
	code := res.StatusCode
	switch {
	case p.On&On5xx != 0 && code >= 500:
		return true
	case p.On&OnGatewayError != 0 && (code == 502 || code == 503 || code == 504):
		return true
	case p.On&OnRetriable4xx != 0 && code == http.StatusConflict:
		return true
	case p.On&OnRetriableStatusCodes != 0 && slices.Contains(p.StatusCodes, code):
		return true
	}
	// gRPC conditions look at a grpc-status in the headers (a trailers-only response): a response
	// whose body has started cannot be retried.
	gs := res.Header.Get("Grpc-Status")
	if gs == "" {
		return false
	}
	n, err := strconv.Atoi(gs)
	if err != nil {
		return false
	}
	switch n {
	case 1:
		return p.On&OnGRPCCancelled != 0
	case 4:
		return p.On&OnGRPCDeadlineExceeded != 0
	case 8:
		return p.On&OnGRPCResourceExhausted != 0
	case 13:
		return p.On&OnGRPCInternal != 0
	case 14:
		return p.On&OnGRPCUnavailable != 0
	}
	return false
}

// retryError reports whether a failed attempt (no response) calls for a retry.
func (p *RetryPolicy) retryError(err error) bool {
	var ce *ConnectError
	switch {
	case errors.As(err, &ce):
		return p.On&(OnConnectFailure|On5xx|OnGatewayError|OnReset|OnResetBeforeRequest) != 0
	case errors.Is(err, ErrPerTryTimeout):
		return p.On&(On5xx|OnGatewayError|OnReset) != 0
	case isRefusedStream(err):
		return p.On&(OnRefusedStream|OnReset|On5xx) != 0
	default: // the stream or connection reset before response headers
		return p.On&(OnReset|On5xx|OnGatewayError) != 0
	}
}

func isRefusedStream(err error) bool { return strings.Contains(err.Error(), "REFUSED_STREAM") }
