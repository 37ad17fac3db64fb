package upstream

import (
	"errors"
	"fmt"
)

// Overflow is a request refused by a circuit breaker of its cluster: the edge answers it at once
// with 503 and x-envoy-overloaded: true.
type Overflow struct {
	Cluster string
	Breaker string // max_requests, max_pending_requests, max_connections
}

func (o *Overflow) Error() string {
	return fmt.Sprintf("cluster %s: circuit breaker %s overflow", o.Cluster, o.Breaker)
}

// ConnectError is a failure to connect to an endpoint (TCP or TLS handshake).
type ConnectError struct {
	Addr string
	Err  error
}

func (e *ConnectError) Error() string { return fmt.Sprintf("connect to %s: %v", e.Addr, e.Err) }
func (e *ConnectError) Unwrap() error { return e.Err }

var (
	// ErrNoHealthyUpstream is returned when a cluster has no endpoint to send to.
	ErrNoHealthyUpstream = errors.New("no healthy upstream")
	// ErrPerTryTimeout is returned when an attempt outlived the retry policy's per_try_timeout.
	ErrPerTryTimeout = errors.New("upstream per-try timeout")
)
