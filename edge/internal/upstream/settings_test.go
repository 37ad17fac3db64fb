package upstream_test

import (
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/edge/internal/upstream"
)

func tlsSocket(ctx *tlsv3.UpstreamTlsContext) *corev3.TransportSocket {
	a, _ := anypb.New(ctx)
	return &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
}

func upstreamTLS(svid, bundle string, san *matcherv3.StringMatcher) *tlsv3.UpstreamTlsContext {
	return &tlsv3.UpstreamTlsContext{Sni: "orders", CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: svid}},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext:         &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: san}}},
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: bundle},
		}},
		AlpnProtocols: []string{"h2"},
	}}
}

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func cluster(mutate func(*clusterv3.Cluster)) *clusterv3.Cluster {
	c := &clusterv3.Cluster{
		Name:                 "orders",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{ServiceName: "orders", EdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}},
		TransportSocket: tlsSocket(upstreamTLS("default", "ROOTCA", exact("spiffe://mercato.local/svc/orders"))),
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func TestParseClusterDefaults(t *testing.T) {
	t.Parallel()
	s, err := upstream.ParseCluster(cluster(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.ServiceName != "orders" || s.ConnectTimeout != 5*time.Second || s.Outlier != nil || s.PanicThreshold != 50 {
		t.Errorf("defaults: %+v", s)
	}
	if want := (upstream.Limits{MaxConnections: 1024, MaxPending: 1024, MaxRequests: 1024, MaxRetries: 3}); s.Limits != want {
		t.Errorf("limits %+v, want Envoy's %+v", s.Limits, want)
	}
	if len(s.TLS.IDs) != 1 || s.TLS.IDs[0].String() != "spiffe://mercato.local/svc/orders" || s.TLS.SNI != "orders" {
		t.Errorf("TLS %+v", s.TLS)
	}
	s, err = upstream.ParseCluster(cluster(func(c *clusterv3.Cluster) {
		c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{
			{Priority: corev3.RoutingPriority_HIGH, MaxRequests: wrapperspb.UInt32(1)},
			{MaxRequests: wrapperspb.UInt32(7)},
		}}
		c.OutlierDetection = &clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(time.Second)}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Limits.MaxRequests != 7 || s.Limits.MaxRetries != 3 {
		t.Errorf("limits %+v: the default priority's max_requests, other defaults kept", s.Limits)
	}
	if o := s.Outlier; o == nil || o.Consecutive5xx != 5 || o.MaxEjectionPercent != 10 || o.MaxEjectionTime != 300*time.Second {
		t.Errorf("outlier %+v, want Envoy's defaults", o)
	}
}

func TestParseClusterRefusesWhatTheEdgeCannotHonour(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate func(*clusterv3.Cluster)
		want   string
	}{
		"plaintext": {func(c *clusterv3.Cluster) { c.TransportSocket = nil }, "mTLS"},
		"other SVID": {func(c *clusterv3.Cluster) {
			c.TransportSocket = tlsSocket(upstreamTLS("mine", "ROOTCA", exact("spiffe://mercato.local/svc/orders")))
		}, `"default"`},
		"other bundle": {func(c *clusterv3.Cluster) {
			c.TransportSocket = tlsSocket(upstreamTLS("default", "theirs", exact("spiffe://mercato.local/svc/orders")))
		}, "ROOTCA"},
		"prefix SAN": {func(c *clusterv3.Cluster) {
			c.TransportSocket = tlsSocket(upstreamTLS("default", "ROOTCA", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "spiffe://"}}))
		}, "exact URI"},
		"least request":    {func(c *clusterv3.Cluster) { c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST }, "lb_policy"},
		"EDS not over ADS": {func(c *clusterv3.Cluster) { c.EdsClusterConfig.EdsConfig = &corev3.ConfigSource{} }, "ADS"},
		"retry budget": {func(c *clusterv3.Cluster) {
			c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{RetryBudget: &clusterv3.CircuitBreakers_Thresholds_RetryBudget{}}}}
		}, "retry_budget"},
	}
	for name, tt := range tests {
		if _, err := upstream.ParseCluster(cluster(tt.mutate)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error about %s", name, err, tt.want)
		}
	}
}

func TestParseLoadAssignmentSkipsUnhealthy(t *testing.T) {
	t.Parallel()
	ep := func(port uint32, hs corev3.HealthStatus) *endpointv3.LbEndpoint {
		return &endpointv3.LbEndpoint{HealthStatus: hs, HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}}}}
	}
	eps, err := upstream.ParseLoadAssignment(&endpointv3.ClusterLoadAssignment{ClusterName: "orders", Endpoints: []*endpointv3.LocalityLbEndpoints{
		{LbEndpoints: []*endpointv3.LbEndpoint{ep(1, corev3.HealthStatus_HEALTHY), ep(2, corev3.HealthStatus_DRAINING)}},
		{Priority: 1, LbEndpoints: []*endpointv3.LbEndpoint{ep(3, corev3.HealthStatus_UNKNOWN), ep(4, corev3.HealthStatus_UNHEALTHY)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].Addr != "10.0.0.1:1" || eps[1].Addr != "10.0.0.1:3" {
		t.Errorf("endpoints %v", eps)
	}
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	p, err := upstream.NewRetryPolicy(&routev3.RetryPolicy{RetryOn: "unavailable, reset,connect-failure"})
	if err != nil {
		t.Fatal(err)
	}
	if p.NumRetries != 1 || p.BaseInterval != 25*time.Millisecond || p.MaxInterval != 250*time.Millisecond {
		t.Errorf("defaults %+v, want Envoy's (1 retry, 25ms..250ms)", p)
	}
	if want := upstream.OnGRPCUnavailable | upstream.OnReset | upstream.OnConnectFailure; p.On != want {
		t.Errorf("retry_on %b, want %b", p.On, want)
	}
	if _, err := upstream.NewRetryPolicy(&routev3.RetryPolicy{RetryOn: "5xx", RetryBackOff: &routev3.RetryPolicy_RetryBackOff{
		BaseInterval: durationpb.New(time.Second), MaxInterval: durationpb.New(time.Millisecond)}}); err == nil {
		t.Error("max_interval below base_interval accepted")
	}
	if p, _ := upstream.NewRetryPolicy(nil); p != nil {
		t.Error("no policy must mean no retries")
	}
}
