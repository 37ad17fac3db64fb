package devedge_test

// Builders of xDS resources exactly as the edge contract (shared with xds/) shapes them: Listener
// "public", RouteConfiguration "public", one EDS cluster per upstream service, and their
// ClusterLoadAssignments. Tests vary only the knobs the contract leaves to routes.yaml.

import (
	"net"
	"strconv"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	mutationrulesv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	corsFilter = "envoy.filters.http.cors"
	jwtFilter  = "envoy.filters.http.jwt_authn"
	inventory  = "/mercato.inventory.v1.InventoryService/"
)

// config is what a test varies; resources() turns it into contract-shaped xDS resources.
type config struct {
	listenAddr        string // host:port of the public listener [127.0.0.1:0]
	certFile, keyFile string
	routes            []testRoute
	clusters          []testCluster
	cors              *corsv3.CorsPolicy
}

type testRoute struct {
	path, prefix string
	cluster      string
	timeout      time.Duration
	retry        *routev3.RetryPolicy
	jwt          bool
}

type testCluster struct {
	name    string
	addrs   []string
	limits  *clusterv3.CircuitBreakers_Thresholds
	outlier *clusterv3.OutlierDetection
}

// idempotentRetry is the contract's retry policy of Get*/List* routes.
func idempotentRetry(n uint32) *routev3.RetryPolicy {
	return &routev3.RetryPolicy{
		RetryOn:       "unavailable,reset,connect-failure",
		NumRetries:    wrapperspb.UInt32(n),
		PerTryTimeout: durationpb.New(time.Second),
		RetryBackOff:  &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(5 * time.Millisecond), MaxInterval: durationpb.New(20 * time.Millisecond)},
	}
}

func defaultCORS() *corsv3.CorsPolicy {
	return &corsv3.CorsPolicy{
		AllowOriginStringMatch:       []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "https://shop.example"}}},
		AllowMethods:                 "GET, POST, OPTIONS",
		AllowHeaders:                 "authorization, content-type, connect-protocol-version, connect-timeout-ms, grpc-timeout, x-grpc-web, x-user-agent",
		ExposeHeaders:                "grpc-status, grpc-message, grpc-status-details-bin",
		MaxAge:                       "600",
		AllowCredentials:             wrapperspb.Bool(true),
		ForwardNotMatchingPreflights: wrapperspb.Bool(false),
	}
}

func typed(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func ads() *corev3.ConfigSource {
	return &corev3.ConfigSource{ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}
}

func sds() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion: corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_ApiConfigSource{ApiConfigSource: &corev3.ApiConfigSource{
			ApiType:             corev3.ApiConfigSource_GRPC,
			TransportApiVersion: corev3.ApiVersion_V3,
			GrpcServices:        []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "spiffe"}}}},
		}},
	}
}

func socketAddress(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

func (c config) listener() *listenerv3.Listener {
	jwtAuthn := &jwtv3.JwtAuthentication{
		Providers: map[string]*jwtv3.JwtProvider{"customers": {
			Issuer:    "mercato.customers",
			Audiences: []string{"mercato"},
			JwksSourceSpecifier: &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: &jwtv3.RemoteJwks{
				HttpUri: &corev3.HttpUri{
					Uri:              "https://customers/.well-known/jwks.json",
					HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: "customers"},
					Timeout:          durationpb.New(2 * time.Second),
				},
				CacheDuration: durationpb.New(300 * time.Second),
			}},
			Forward:              false,
			ForwardPayloadHeader: "x-mercato-claims",
			FromHeaders:          []*jwtv3.JwtHeader{{Name: "Authorization", ValuePrefix: "Bearer "}},
		}},
		RequirementMap:      map[string]*jwtv3.JwtRequirement{"required": {RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "customers"}}},
		BypassCorsPreflight: true,
	}
	manager := &hcmv3.HttpConnectionManager{
		StatPrefix: "public",
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: "public", ConfigSource: ads(),
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			{Name: "envoy.filters.http.header_mutation", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed(&mutationv3.HeaderMutation{
				Mutations: &mutationv3.Mutations{RequestMutations: []*mutationrulesv3.HeaderMutation{
					{Action: &mutationrulesv3.HeaderMutation_Remove{Remove: "x-mercato-claims"}},
				}},
			})}},
			{Name: corsFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed(&corsv3.Cors{})}},
			{Name: jwtFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed(jwtAuthn)}},
			{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed(&routerv3.Router{})}},
		},
	}
	tls := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificates: []*tlsv3.TlsCertificate{{
			CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: c.certFile}},
			PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: c.keyFile}},
		}},
		AlpnProtocols: []string{"h2", "http/1.1"},
	}}
	host, port := "127.0.0.1", 0
	if c.listenAddr != "" {
		h, p, err := net.SplitHostPort(c.listenAddr)
		if err != nil {
			panic(err)
		}
		host, port = h, atoi(p)
	}
	return &listenerv3.Listener{
		Name:    "public",
		Address: socketAddress(host, uint32(port)),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: typed(manager)},
			}},
			TransportSocket: &corev3.TransportSocket{
				Name:       "envoy.transport_sockets.tls",
				ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: typed(tls)},
			},
		}},
	}
}

func (c config) routeConfiguration() *routev3.RouteConfiguration {
	vh := &routev3.VirtualHost{Name: "mercato", Domains: []string{"*"}}
	if c.cors != nil {
		vh.TypedPerFilterConfig = map[string]*anypb.Any{corsFilter: typed(c.cors)}
	}
	for _, r := range c.routes {
		match := &routev3.RouteMatch{}
		if r.path != "" {
			match.PathSpecifier = &routev3.RouteMatch_Path{Path: r.path}
		} else {
			match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: r.prefix}
		}
		action := &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: r.cluster},
			Timeout:          durationpb.New(r.timeout),
			RetryPolicy:      r.retry,
		}
		rt := &routev3.Route{Match: match, Action: &routev3.Route_Route{Route: action}}
		if r.jwt {
			rt.TypedPerFilterConfig = map[string]*anypb.Any{jwtFilter: typed(&jwtv3.PerRouteConfig{
				RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: "required"},
			})}
		}
		vh.Routes = append(vh.Routes, rt)
	}
	return &routev3.RouteConfiguration{Name: "public", VirtualHosts: []*routev3.VirtualHost{vh}}
}

func (tc testCluster) cluster() *clusterv3.Cluster {
	upstreamTLS := &tlsv3.UpstreamTlsContext{
		Sni: tc.name,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: "default", SdsConfig: sds()}},
			ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext: &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
					SanType: tlsv3.SubjectAltNameMatcher_URI,
					Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "spiffe://mercato.local/svc/" + tc.name}},
				}}},
				ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: "ROOTCA", SdsConfig: sds()},
			}},
			AlpnProtocols: []string{"h2"},
		},
	}
	limits := tc.limits
	if limits == nil {
		limits = &clusterv3.CircuitBreakers_Thresholds{
			MaxConnections: wrapperspb.UInt32(64), MaxPendingRequests: wrapperspb.UInt32(256),
			MaxRequests: wrapperspb.UInt32(256), MaxRetries: wrapperspb.UInt32(8),
		}
	}
	outlier := tc.outlier
	if outlier == nil {
		outlier = &clusterv3.OutlierDetection{
			Consecutive_5Xx: wrapperspb.UInt32(5), Interval: durationpb.New(time.Second),
			BaseEjectionTime: durationpb.New(30 * time.Second), MaxEjectionPercent: wrapperspb.UInt32(50),
		}
	}
	return &clusterv3.Cluster{
		Name:                 tc.name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: ads(), ServiceName: tc.name},
		ConnectTimeout:       durationpb.New(time.Second),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(&httpv3.HttpProtocolOptions{
				UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
				}},
			}),
		},
		CircuitBreakers:  &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{limits}},
		OutlierDetection: outlier,
		TransportSocket: &corev3.TransportSocket{
			Name:       "envoy.transport_sockets.tls",
			ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: typed(upstreamTLS)},
		},
	}
}

func (tc testCluster) loadAssignment() *endpointv3.ClusterLoadAssignment {
	var eps []*endpointv3.LbEndpoint
	for _, a := range tc.addrs {
		host, portStr, err := net.SplitHostPort(a)
		if err != nil {
			panic(err)
		}
		port := atoi(portStr)
		eps = append(eps, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: socketAddress(host, uint32(port)),
		}}})
	}
	return &endpointv3.ClusterLoadAssignment{ClusterName: tc.name, Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: eps}}}
}

// resources returns the snapshot's resources by type.
func (c config) resources() (listeners, routes, clusters, endpoints []types.Resource) {
	listeners = []types.Resource{c.listener()}
	routes = []types.Resource{c.routeConfiguration()}
	for _, tc := range c.clusters {
		clusters = append(clusters, tc.cluster())
		endpoints = append(endpoints, tc.loadAssignment())
	}
	return listeners, routes, clusters, endpoints
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
