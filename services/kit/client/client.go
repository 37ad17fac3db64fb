// Package client builds the Connect clients a service uses to call its dependencies: mTLS with
// the dependency's SPIFFE ID checked, a deadline on every call (the caller's remaining deadline,
// capped per dependency), retries with jittered backoff for idempotent methods within a retry
// budget, and a circuit breaker per dependency that fails fast with unavailable.
package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/coalesce"
	"mercato.dev/services/kit/compress"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

// readMaxBytes bounds a response message, after decompression.
const readMaxBytes = 16 << 20

// Dependency describes one service this process calls.
type Dependency struct {
	Name       string        // "inventory": labels metrics, logs and the breaker (required)
	Addr       string        // host:port of its mTLS listener (required)
	ID         spiffeid.ID   // the SPIFFE ID it must present (required)
	Timeout    time.Duration // cap on one call including its retries [5s]
	Idempotent []string      // procedures safe to retry, besides those the contract marks idempotent
	Retry      RetryPolicy
	Breaker    BreakerPolicy
}

// Validate reports the first missing field.
func (d Dependency) Validate() error {
	switch {
	case d.Name == "":
		return errors.New("client: dependency Name is required")
	case d.Addr == "":
		return fmt.Errorf("client: %s: Addr is required", d.Name)
	case d.ID.IsZero():
		return fmt.Errorf("client: %s: ID is required", d.Name)
	}
	return nil
}

// Factory makes connections to dependencies with this process's SVID.
type Factory struct {
	src     identity.Source
	logger  *slog.Logger
	metrics *clientMetrics
}

// NewFactory returns a factory presenting src's SVID. reg may be nil (no metrics).
func NewFactory(src identity.Source, logger *slog.Logger, reg prometheus.Registerer) *Factory {
	if logger == nil {
		logger = telemetry.Discard()
	}
	return &Factory{src: src, logger: logger, metrics: newClientMetrics(reg)}
}

// Conn is a connection to one dependency; pass its parts to a generated client constructor:
//
//	conn, _ := factory.Connect(dep)
//	inventory := inventoryv1connect.NewInventoryServiceClient(conn.HTTPClient, conn.BaseURL, conn.Options()...)
type Conn struct {
	HTTPClient *http.Client
	BaseURL    string
	Breaker    *Breaker
	opts       []connect.ClientOption
}

// Options are the client options that apply this dependency's policies.
func (c *Conn) Options(extra ...connect.ClientOption) []connect.ClientOption {
	return append(append([]connect.ClientOption{}, c.opts...), extra...)
}

// Connect returns a connection to dep. Connections are made lazily, on the first call.
func (f *Factory) Connect(dep Dependency) (*Conn, error) {
	if err := dep.Validate(); err != nil {
		return nil, err
	}
	if dep.Timeout <= 0 {
		dep.Timeout = 5 * time.Second
	}
	dep.Retry.setDefaults()
	dep.Breaker.setDefaults()
	breaker := newBreaker(dep.Name, dep.Breaker, f.logger, f.metrics)
	interceptors := []connect.Interceptor{
		f.metrics.interceptor(dep.Name),
		deadlineInterceptor(dep.Timeout),
	}
	if otel, err := telemetry.RPCTracing(otelconnect.WithoutMetrics()); err == nil {
		interceptors = append(interceptors, otel)
	}
	interceptors = append(interceptors,
		newRetrier(dep.Name, dep.Idempotent, dep.Retry, f.metrics),
		breaker.interceptor(),
	)
	return &Conn{
		HTTPClient: &http.Client{Transport: f.transport(dep)},
		BaseURL:    "https://" + dep.Addr,
		Breaker:    breaker,
		opts: append([]connect.ClientOption{connect.WithInterceptors(interceptors...), connect.WithReadMaxBytes(readMaxBytes)},
			compress.ClientOptions(readMaxBytes)...),
	}, nil
}

func (f *Factory) transport(dep Dependency) *http.Transport {
	dialer := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         coalesce.Dialer(dialer.DialContext),
		TLSClientConfig:     identity.ClientTLS(identity.Fresh(f.src), dep.ID),
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: 15 * time.Second, PingTimeout: 5 * time.Second},
	}
}
