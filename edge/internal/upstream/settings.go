package upstream

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// The SDS secrets a cluster may name: the Workload API's own SVID and trust bundle, as the SPIRE
// agent and the local issuer serve them. The dev edge reads both from its Workload API source.
const (
	svidSecret   = "default"
	bundleSecret = "ROOTCA"
)

const httpProtocolOptions = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// Settings is a compiled Cluster: what the edge needs to reach and protect one upstream.
type Settings struct {
	Name           string
	ServiceName    string     // EDS service name; empty for clusters with static endpoints
	Static         []Endpoint // endpoints of STATIC and DNS clusters
	ConnectTimeout time.Duration
	HTTP2          bool
	IdleTimeout    time.Duration
	TLS            TLSSettings
	Limits         Limits
	Outlier        *OutlierSettings // nil: no outlier detection
	PanicThreshold float64          // percent of healthy hosts below which all hosts are used
	Random         bool             // lb_policy RANDOM instead of ROUND_ROBIN
}

// TLSSettings is the cluster's UpstreamTlsContext: the edge's SVID, verified against the trust
// bundle, and the server SPIFFE IDs accepted (any ID of the bundle when empty).
type TLSSettings struct {
	SNI  string
	IDs  []spiffeid.ID
	ALPN []string
}

// Limits are the circuit breaker thresholds of the default priority.
type Limits struct {
	MaxConnections, MaxPending, MaxRequests, MaxRetries int64
}

// OutlierSettings is the cluster's outlier_detection, consecutive 5xx part.
type OutlierSettings struct {
	Consecutive5xx     int64
	Enforcing          uint32 // percent
	BaseEjectionTime   time.Duration
	MaxEjectionTime    time.Duration
	MaxEjectionPercent uint32
	AlwaysEjectOne     bool
}

// Envoy's defaults.
var defaultLimits = Limits{MaxConnections: 1024, MaxPending: 1024, MaxRequests: 1024, MaxRetries: 3}

// ParseCluster compiles c; what the dev edge cannot honour is an error.
func ParseCluster(c *clusterv3.Cluster) (*Settings, error) {
	s := &Settings{Name: c.GetName(), ConnectTimeout: 5 * time.Second, IdleTimeout: time.Hour, PanicThreshold: 50, Limits: defaultLimits}
	if err := s.parseDiscovery(c); err != nil {
		return nil, err
	}
	switch c.GetLbPolicy() {
	case clusterv3.Cluster_ROUND_ROBIN:
	case clusterv3.Cluster_RANDOM:
		s.Random = true
	default:
		return nil, fmt.Errorf("lb_policy %s is not supported by the dev edge", c.GetLbPolicy())
	}
	if c.GetLoadBalancingPolicy() != nil {
		return nil, errors.New("load_balancing_policy is not supported by the dev edge: use lb_policy")
	}
	if d := c.GetConnectTimeout(); d != nil {
		s.ConnectTimeout = d.AsDuration()
	}
	if p := c.GetCommonLbConfig().GetHealthyPanicThreshold(); p != nil {
		s.PanicThreshold = p.GetValue()
	}
	if c.GetHealthChecks() != nil {
		return nil, errors.New("active health checks are not supported by the dev edge")
	}
	if err := s.parseProtocol(c); err != nil {
		return nil, err
	}
	if err := s.parseTLS(c.GetTransportSocket()); err != nil {
		return nil, err
	}
	if err := s.parseLimits(c.GetCircuitBreakers()); err != nil {
		return nil, err
	}
	s.Outlier = parseOutlier(c.GetOutlierDetection())
	return s, nil
}

func (s *Settings) parseDiscovery(c *clusterv3.Cluster) error {
	switch c.GetType() {
	case clusterv3.Cluster_EDS:
		if c.GetEdsClusterConfig().GetEdsConfig().GetAds() == nil {
			return errors.New("EDS must come over ADS")
		}
		s.ServiceName = c.GetEdsClusterConfig().GetServiceName()
		if s.ServiceName == "" {
			s.ServiceName = c.GetName()
		}
		return nil
	case clusterv3.Cluster_STATIC, clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS:
		eps, err := ParseLoadAssignment(c.GetLoadAssignment())
		s.Static = eps
		return err
	default:
		return fmt.Errorf("cluster discovery type %v is not supported by the dev edge", c.GetClusterDiscoveryType())
	}
}

func (s *Settings) parseProtocol(c *clusterv3.Cluster) error {
	if c.GetHttp2ProtocolOptions() != nil { //nolint:staticcheck // the deprecated form is still valid xDS
		s.HTTP2 = true
	}
	a, ok := c.GetTypedExtensionProtocolOptions()[httpProtocolOptions]
	if !ok {
		return nil
	}
	opts := &httpv3.HttpProtocolOptions{}
	if err := a.UnmarshalTo(opts); err != nil {
		return fmt.Errorf("%s: %w", httpProtocolOptions, err)
	}
	switch p := opts.GetUpstreamProtocolOptions().(type) {
	case *httpv3.HttpProtocolOptions_ExplicitHttpConfig_:
		s.HTTP2 = p.ExplicitHttpConfig.GetHttp2ProtocolOptions() != nil
		if p.ExplicitHttpConfig.GetHttp3ProtocolOptions() != nil {
			return errors.New("HTTP/3 upstreams are not supported by the dev edge")
		}
	case *httpv3.HttpProtocolOptions_AutoConfig:
		s.HTTP2 = true // ALPN decides; the edge offers h2 first
	case *httpv3.HttpProtocolOptions_UseDownstreamProtocolConfig:
		return errors.New("use_downstream_protocol_config is not supported by the dev edge")
	}
	if d := opts.GetCommonHttpProtocolOptions().GetIdleTimeout(); d != nil && d.AsDuration() > 0 {
		s.IdleTimeout = d.AsDuration()
	}
	return nil
}

func (s *Settings) parseTLS(ts *corev3.TransportSocket) error {
	if ts == nil {
		return errors.New("a cluster without a TLS transport socket is refused: every upstream is mTLS")
	}
	u := &tlsv3.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(u); err != nil {
		return fmt.Errorf("transport socket %s: want an UpstreamTlsContext: %w", ts.GetName(), err)
	}
	ctx := u.GetCommonTlsContext()
	certs := ctx.GetTlsCertificateSdsSecretConfigs()
	if len(ctx.GetTlsCertificates()) > 0 || len(certs) != 1 || certs[0].GetName() != svidSecret {
		return fmt.Errorf("the client certificate must be the SDS secret %q (the edge's SVID)", svidSecret)
	}
	var vc *tlsv3.CertificateValidationContext
	var bundle string
	switch v := ctx.GetValidationContextType().(type) {
	case *tlsv3.CommonTlsContext_CombinedValidationContext:
		vc, bundle = v.CombinedValidationContext.GetDefaultValidationContext(), v.CombinedValidationContext.GetValidationContextSdsSecretConfig().GetName()
	case *tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig:
		bundle = v.ValidationContextSdsSecretConfig.GetName()
	default:
		return fmt.Errorf("the validation context must be the SDS secret %q (the trust bundle)", bundleSecret)
	}
	if bundle != bundleSecret && bundle != "spiffe://mercato.local" {
		return fmt.Errorf("validation context secret %q: want %q", bundle, bundleSecret)
	}
	if vc.GetTrustedCa() != nil || len(vc.GetVerifyCertificateHash()) > 0 || len(vc.GetVerifyCertificateSpki()) > 0 || vc.GetCustomValidatorConfig() != nil {
		return errors.New("only SAN matching is supported on top of the SDS trust bundle")
	}
	ids, err := sanIDs(vc)
	if err != nil {
		return err
	}
	s.TLS = TLSSettings{SNI: u.GetSni(), IDs: ids, ALPN: ctx.GetAlpnProtocols()}
	return nil
}

// sanIDs reads the SPIFFE IDs of exact URI SAN matchers.
func sanIDs(vc *tlsv3.CertificateValidationContext) ([]spiffeid.ID, error) {
	var ids []spiffeid.ID
	for _, m := range vc.GetMatchTypedSubjectAltNames() {
		if m.GetSanType() != tlsv3.SubjectAltNameMatcher_URI || m.GetMatcher().GetExact() == "" {
			return nil, fmt.Errorf("SAN matcher %v: only exact URI matchers (SPIFFE IDs) are supported by the dev edge", m)
		}
		id, err := spiffeid.FromString(m.GetMatcher().GetExact())
		if err != nil {
			return nil, fmt.Errorf("SAN matcher: %w", err)
		}
		ids = append(ids, id)
	}
	for _, m := range vc.GetMatchSubjectAltNames() { //nolint:staticcheck // deprecated but valid xDS
		id, err := spiffeid.FromString(m.GetExact())
		if err != nil {
			return nil, fmt.Errorf("SAN matcher %v: only exact SPIFFE IDs are supported by the dev edge: %w", m, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *Settings) parseLimits(cb *clusterv3.CircuitBreakers) error {
	for _, t := range cb.GetThresholds() {
		if t.GetPriority() != corev3.RoutingPriority_DEFAULT {
			continue // the edge sends every request at the default priority
		}
		if t.GetRetryBudget() != nil {
			return errors.New("circuit breaker retry_budget is not supported by the dev edge: use max_retries")
		}
		if v := t.GetMaxConnections(); v != nil {
			s.Limits.MaxConnections = int64(v.GetValue())
		}
		if v := t.GetMaxPendingRequests(); v != nil {
			s.Limits.MaxPending = int64(v.GetValue())
		}
		if v := t.GetMaxRequests(); v != nil {
			s.Limits.MaxRequests = int64(v.GetValue())
		}
		if v := t.GetMaxRetries(); v != nil {
			s.Limits.MaxRetries = int64(v.GetValue())
		}
	}
	return nil
}

func parseOutlier(o *clusterv3.OutlierDetection) *OutlierSettings {
	if o == nil {
		return nil
	}
	out := &OutlierSettings{Consecutive5xx: 5, Enforcing: 100, BaseEjectionTime: 30 * time.Second, MaxEjectionPercent: 10}
	if v := o.GetConsecutive_5Xx(); v != nil {
		out.Consecutive5xx = int64(v.GetValue())
	}
	if v := o.GetEnforcingConsecutive_5Xx(); v != nil {
		out.Enforcing = v.GetValue()
	}
	if v := o.GetBaseEjectionTime(); v != nil {
		out.BaseEjectionTime = v.AsDuration()
	}
	if v := o.GetMaxEjectionPercent(); v != nil {
		out.MaxEjectionPercent = v.GetValue()
	}
	out.MaxEjectionTime = max(300*time.Second, out.BaseEjectionTime)
	if v := o.GetMaxEjectionTime(); v != nil {
		out.MaxEjectionTime = v.AsDuration()
	}
	out.AlwaysEjectOne = o.GetAlwaysEjectOneHost().GetValue()
	if out.Consecutive5xx == 0 {
		return nil // consecutive 5xx ejection disabled; success-rate detection is not implemented
	}
	return out
}

// Endpoint is one upstream instance.
type Endpoint struct {
	Addr string // host:port
}

// ParseLoadAssignment returns the usable endpoints of cla: every locality and priority flattened,
// endpoints reported UNHEALTHY, DRAINING or TIMEOUT left out.
func ParseLoadAssignment(cla *endpointv3.ClusterLoadAssignment) ([]Endpoint, error) {
	var eps []Endpoint
	for _, l := range cla.GetEndpoints() {
		for _, lb := range l.GetLbEndpoints() {
			switch lb.GetHealthStatus() {
			case corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_DRAINING, corev3.HealthStatus_TIMEOUT:
				continue
			}
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			if sa == nil || sa.GetPortValue() == 0 {
				return nil, fmt.Errorf("endpoint %v: only socket addresses with a port value are supported by the dev edge", lb.GetEndpoint().GetAddress())
			}
			eps = append(eps, Endpoint{Addr: net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))})
		}
	}
	return eps, nil
}
