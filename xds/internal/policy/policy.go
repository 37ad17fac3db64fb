// Package policy reads edge/routes.yaml, the declarative edge policy: the public listener, JWT
// verification, CORS, the upstream clusters with their SPIFFE IDs and resilience settings, and
// the public routes. Parsing is strict (an unknown field is an error) and every problem is
// reported with its field path and line; a Policy that Parse returns is valid and complete
// (defaults applied, relative file paths resolved, per-route timeout and retry decided).
package policy

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Policy is the edge policy of one routes file.
type Policy struct {
	Listener Listener
	JWT      JWT
	CORS     CORS
	Clusters map[string]Cluster
	// ClusterDefaults is what every cluster started from (cluster_defaults).
	ClusterDefaults Cluster
	// RouteDefaults is what every route starts from (route_defaults).
	RouteDefaults RouteLimits
	Private       []string // methods that must never be routed
	Routes        []Route
	Proxyless     Proxyless
	Tracing       Tracing
}

// Listener is the public HTTPS listener.
type Listener struct {
	Address string `yaml:"address"` // ip:port
	TLS     TLS    `yaml:"tls"`
	// ClientAddressHeader carries the downstream (client) IP address to the services: the edge
	// strips any inbound copy and sets it, so services may trust it from the edge's SPIFFE ID.
	ClientAddressHeader string      `yaml:"client_address_header"`
	Connections         Connections `yaml:"connections"`
}

// Connections bound what downstream connections may hold (HCM timeouts and HTTP/2 settings,
// and the connection_limit network filter).
type Connections struct {
	MaxConnections        uint32   `yaml:"max_connections"`         // open at once; more are closed at once
	IdleTimeout           Duration `yaml:"idle_timeout"`            // a connection without streams
	RequestHeadersTimeout Duration `yaml:"request_headers_timeout"` // to receive a request's headers
	StreamIdleTimeout     Duration `yaml:"stream_idle_timeout"`     // a stream without activity
	MaxConcurrentStreams  uint32   `yaml:"max_concurrent_streams"`  // per HTTP/2 connection
}

// TLS names the public certificate's files (PEM), as the edge process sees them.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// JWT is the end-user token verification of the edge.
type JWT struct {
	Provider             string   `yaml:"provider"`
	Issuer               string   `yaml:"issuer"`
	Audiences            []string `yaml:"audiences"`
	JWKS                 JWKS     `yaml:"jwks"`
	ForwardPayloadHeader string   `yaml:"forward_payload_header"`
}

// JWKS is where the edge fetches the token signing keys.
type JWKS struct {
	URI           string   `yaml:"uri"`
	Cluster       string   `yaml:"cluster"`
	Timeout       Duration `yaml:"timeout"`
	CacheDuration Duration `yaml:"cache_duration"`
}

// CORS is the browser policy of the public virtual host.
type CORS struct {
	AllowOrigins     []string `yaml:"allow_origins"`
	AllowMethods     []string `yaml:"allow_methods"`
	AllowHeaders     []string `yaml:"allow_headers"`
	ExposeHeaders    []string `yaml:"expose_headers"`
	MaxAge           Duration `yaml:"max_age"`
	AllowCredentials bool     `yaml:"allow_credentials"`
}

// Cluster is one upstream service.
type Cluster struct {
	SPIFFEID         string           `yaml:"spiffe_id"`
	ConnectTimeout   Duration         `yaml:"connect_timeout"`
	Timeout          Duration         `yaml:"timeout"` // default per-route timeout
	Retry            Retry            `yaml:"retry"`
	CircuitBreaker   CircuitBreaker   `yaml:"circuit_breaker"`
	OutlierDetection OutlierDetection `yaml:"outlier_detection"`
}

// Retry is the retry policy of the cluster's idempotent routes.
type Retry struct {
	NumRetries    uint32   `yaml:"num_retries"`
	PerTryTimeout Duration `yaml:"per_try_timeout"`
	RetryOn       []string `yaml:"retry_on"`
	// RetriableStatusCodes are the HTTP statuses retried under "retriable-status-codes": a
	// Connect-protocol unavailable arrives as a plain HTTP 503, which the gRPC "unavailable"
	// condition (read from grpc-status) does not see.
	RetriableStatusCodes []uint32 `yaml:"retriable_status_codes"`
	Backoff              Backoff  `yaml:"backoff"`
}

// Backoff is the jittered exponential back-off between retries.
type Backoff struct {
	Base Duration `yaml:"base"`
	Max  Duration `yaml:"max"`
}

// CircuitBreaker are the cluster's thresholds (Envoy circuit_breakers.thresholds[0]).
type CircuitBreaker struct {
	MaxConnections     uint32 `yaml:"max_connections"`
	MaxPendingRequests uint32 `yaml:"max_pending_requests"`
	MaxRequests        uint32 `yaml:"max_requests"`
	MaxRetries         uint32 `yaml:"max_retries"`
}

// OutlierDetection ejects endpoints that keep failing.
type OutlierDetection struct {
	Consecutive5xx     uint32   `yaml:"consecutive_5xx"`
	Interval           Duration `yaml:"interval"`
	BaseEjectionTime   Duration `yaml:"base_ejection_time"`
	MaxEjectionPercent uint32   `yaml:"max_ejection_percent"`
}

// Route exposes one method (Path) or a whole service (Prefix) on the public listener.
type Route struct {
	Path    string   `yaml:"path"`
	Prefix  string   `yaml:"prefix"`
	Cluster string   `yaml:"cluster"`
	Auth    Auth     `yaml:"auth"`
	Timeout Duration `yaml:"timeout"` // after Parse: the effective timeout
	Retry   *bool    `yaml:"retry"`   // after Parse: never nil, whether the route retries
	// MaxRequestBytes bounds the request body (after Parse: the effective bound); a larger
	// body is answered 413 before anything is sent upstream.
	MaxRequestBytes uint32 `yaml:"max_request_bytes"`
	// RateLimit, when set, is a token bucket shared by every request on the route (at each
	// edge instance); a request finding it empty is answered 429.
	RateLimit *RateLimit `yaml:"rate_limit"`
}

// RouteLimits are the limits every route starts from.
type RouteLimits struct {
	MaxRequestBytes uint32 `yaml:"max_request_bytes"`
}

// RateLimit is a token bucket (Envoy's local rate limit): it holds at most MaxTokens and gains
// TokensPerFill every FillInterval.
type RateLimit struct {
	MaxTokens     uint32   `yaml:"max_tokens"`
	TokensPerFill uint32   `yaml:"tokens_per_fill"`
	FillInterval  Duration `yaml:"fill_interval"`
}

// Match is the route's path or prefix.
func (r Route) Match() string { return r.Path + r.Prefix }

// Retries reports whether the route carries its cluster's retry policy.
func (r Route) Retries() bool { return r.Retry != nil && *r.Retry }

// Auth says whether a route needs an end-user JWT.
type Auth string

// The two kinds of routes.
const (
	Anonymous  Auth = "anonymous"
	RequireJWT Auth = "jwt"
)

// Proxyless configures the resources for proxyless gRPC clients.
type Proxyless struct {
	Domain string `yaml:"domain"` // the API listener of cluster c is "<c>.<domain>"
}

// Duration is a time.Duration written as "250ms", "5s", "2h".
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ClusterNames returns the declared clusters, sorted.
func (p *Policy) ClusterNames() []string { return slices.Sorted(maps.Keys(p.Clusters)) }

// Options say how a routes file is read.
type Options struct {
	// BaseDir resolves relative certificate paths: the data directory as the edge sees it.
	BaseDir string
	// ListenerAddress, when set, replaces listener.address: where the edge binds is a property
	// of the deployment (0.0.0.0:8443 in a container), the rest of the policy is not.
	ListenerAddress string
	// CORSOrigins are allowed in addition to cors.allow_origins: the origins a deployment
	// serves its web client from (XDS_CORS_ALLOW_ORIGINS).
	CORSOrigins []string
}

// Load reads and parses the routes file at path.
func Load(path string, opts Options) (*Policy, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read routes: %w", err)
	}
	p, err := Parse(data, opts)
	if errs, ok := err.(*Errors); ok {
		errs.File = path
	}
	return p, data, err
}

// Parse decodes and validates a routes file. A non-nil error is an *Errors listing every
// problem with its field path.
func Parse(data []byte, opts Options) (*Policy, error) {
	errs := &Errors{}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		errs.add("", 0, fmt.Sprintf("not a YAML document: %v", err))
		return nil, errs
	}
	var rest yaml.Node
	if dec.Decode(&rest) == nil {
		errs.add("", rest.Line, "more than one YAML document")
		return nil, errs
	}
	d := &decoder{errs: errs, lines: map[string]int{}}
	p := decodePolicy(d, &root)
	if err := errs.err(); err != nil {
		return nil, err
	}
	(&validator{errs: errs, lines: d.lines, opts: opts}).policy(p)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// document is the file's top level: clusters are decoded on top of cluster_defaults, so they
// stay raw until the defaults are known.
type document struct {
	Listener        Listener             `yaml:"listener"`
	JWT             JWT                  `yaml:"jwt"`
	CORS            CORS                 `yaml:"cors"`
	ClusterDefaults Cluster              `yaml:"cluster_defaults"`
	RouteDefaults   RouteLimits          `yaml:"route_defaults"`
	Clusters        map[string]yaml.Node `yaml:"clusters"`
	Private         []string             `yaml:"private"`
	Routes          []Route              `yaml:"routes"`
	Proxyless       Proxyless            `yaml:"proxyless"`
	Tracing         Tracing              `yaml:"tracing"`
}

func decodePolicy(d *decoder, root *yaml.Node) *Policy {
	def := defaults()
	doc := document{Listener: def.Listener, JWT: def.JWT, CORS: def.CORS, Proxyless: def.Proxyless, ClusterDefaults: clusterDefaults(), RouteDefaults: def.RouteDefaults}
	doc.Tracing.RandomSampling = 100
	d.decode(root, reflect.ValueOf(&doc).Elem(), "")
	p := Policy{
		Listener: doc.Listener, JWT: doc.JWT, CORS: doc.CORS, Private: doc.Private,
		Routes: doc.Routes, Proxyless: doc.Proxyless, Clusters: map[string]Cluster{}, ClusterDefaults: doc.ClusterDefaults,
		RouteDefaults: doc.RouteDefaults,
	}
	p.Tracing = doc.Tracing
	for _, name := range slices.Sorted(maps.Keys(doc.Clusters)) {
		c := doc.ClusterDefaults.clone()
		if node := doc.Clusters[name]; node.Kind != 0 {
			d.decode(&node, reflect.ValueOf(&c).Elem(), "clusters."+name)
		}
		p.Clusters[name] = c
	}
	return &p
}

func (c Cluster) clone() Cluster {
	c.Retry.RetryOn = slices.Clone(c.Retry.RetryOn)
	c.Retry.RetriableStatusCodes = slices.Clone(c.Retry.RetriableStatusCodes)
	return c
}

// abs resolves a relative path against base.
func abs(base, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(base, path)
}
