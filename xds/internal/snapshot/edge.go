package snapshot

import (
	"net"
	"slices"
	"strconv"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	mutation "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cors "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	headermutation "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwt "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/xds/internal/policy"
)

// Names fixed by the edge contract.
const (
	PublicListener   = "public"
	PublicRoutes     = "public"
	VirtualHost      = "mercato"
	HeaderMutation   = "envoy.filters.http.header_mutation"
	JWTAuthn         = "envoy.filters.http.jwt_authn"
	JWTRequirement   = "required"
	SPIFFECluster    = "spiffe"  // static in the edge's bootstrap: SDS over the Workload API socket
	SVIDSecret       = "default" // SDS secret of the edge's own SVID
	BundleSecret     = "ROOTCA"  // SDS secret of the trust bundle
	httpProtoOptions = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// ClientAddressFormat is Envoy's formatter for the downstream IP address.
const ClientAddressFormat = "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"

// publicListener is LDS "public": TLS with the mounted certificate, a connection cap, one HTTP
// connection manager whose filters strip inbound claims and set the client address, apply
// CORS, rate limits, verify JWTs, receive the body within its limit, then route. Every reply
// the edge makes itself is a protocol error (localReplyConfig).
func publicListener(p *policy.Policy) *listener.Listener {
	host, port, _ := net.SplitHostPort(p.Listener.Address) // validated by policy
	portNum, _ := strconv.ParseUint(port, 10, 32)
	manager := &hcm.HttpConnectionManager{
		StatPrefix: "public",
		CodecType:  hcm.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			RouteConfigName: PublicRoutes, ConfigSource: adsSource(),
		}},
		HttpFilters: []*hcm.HttpFilter{
			httpFilter(HeaderMutation, &headermutation.HeaderMutation{Mutations: &headermutation.Mutations{
				RequestMutations: []*mutation.HeaderMutation{
					{Action: &mutation.HeaderMutation_Remove{Remove: p.JWT.ForwardPayloadHeader}},
					{Action: &mutation.HeaderMutation_Remove{Remove: p.Listener.ClientAddressHeader}},
					{Action: &mutation.HeaderMutation_Append{Append: header(p.Listener.ClientAddressHeader, ClientAddressFormat)}},
				},
			}}),
			httpFilter(wellknown.CORS, &cors.Cors{}),
			rateLimitFilter(),
			httpFilter(JWTAuthn, jwtConfig(p.JWT)),
			bufferFilter(p),
			httpFilter(wellknown.Router, &router.Router{}),
		},
		LocalReplyConfig: localReplyConfig(),
		Tracing:          edgeTracing(p.Tracing),
	}
	limitConnections(manager, p.Listener.Connections)
	downstream := &tls.DownstreamTlsContext{CommonTlsContext: &tls.CommonTlsContext{
		TlsCertificates: []*tls.TlsCertificate{{
			CertificateChain: &core.DataSource{Specifier: &core.DataSource_Filename{Filename: p.Listener.TLS.CertFile}},
			PrivateKey:       &core.DataSource{Specifier: &core.DataSource_Filename{Filename: p.Listener.TLS.KeyFile}},
		}},
		AlpnProtocols: []string{"h2", "http/1.1"},
	}}
	return &listener.Listener{
		Name:    PublicListener,
		Address: socketAddress(host, uint32(portNum)),
		FilterChains: []*listener.FilterChain{{
			Filters: []*listener.Filter{connectionLimit(p.Listener.Connections), {
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(manager)},
			}},
			TransportSocket: tlsSocket(downstream),
		}},
	}
}

func jwtConfig(j policy.JWT) *jwt.JwtAuthentication {
	return &jwt.JwtAuthentication{
		Providers: map[string]*jwt.JwtProvider{j.Provider: {
			Issuer:    j.Issuer,
			Audiences: j.Audiences,
			JwksSourceSpecifier: &jwt.JwtProvider_RemoteJwks{RemoteJwks: &jwt.RemoteJwks{
				HttpUri: &core.HttpUri{
					Uri:              j.JWKS.URI,
					HttpUpstreamType: &core.HttpUri_Cluster{Cluster: j.JWKS.Cluster},
					Timeout:          duration(j.JWKS.Timeout),
				},
				CacheDuration: duration(j.JWKS.CacheDuration),
			}},
			Forward:              false,
			ForwardPayloadHeader: j.ForwardPayloadHeader,
			FromHeaders:          []*jwt.JwtHeader{{Name: "Authorization", ValuePrefix: "Bearer "}},
		}},
		RequirementMap: map[string]*jwt.JwtRequirement{
			JWTRequirement: {RequiresType: &jwt.JwtRequirement_ProviderName{ProviderName: j.Provider}},
		},
		// The CORS filter answers allowed preflights before this one; a preflight never carries
		// a token, so it must not be refused here either.
		BypassCorsPreflight: true,
	}
}

// publicRoutes is RDS "public": one virtual host, exact-path (or service-prefix) routes to
// the public methods only, each with its timeout, retries for reads and its JWT requirement.
func publicRoutes(p *policy.Policy) *route.RouteConfiguration {
	routes := make([]*route.Route, 0, len(p.Routes))
	for _, r := range p.Routes {
		routes = append(routes, publicRoute(p, r))
	}
	return &route.RouteConfiguration{
		Name: PublicRoutes,
		VirtualHosts: []*route.VirtualHost{{
			Name:                 VirtualHost,
			Domains:              []string{"*"},
			Routes:               routes,
			TypedPerFilterConfig: map[string]*anypb.Any{wellknown.CORS: mustAny(corsPolicy(p.CORS))},
		}},
	}
}

func publicRoute(p *policy.Policy, r policy.Route) *route.Route {
	match := &route.RouteMatch{PathSpecifier: &route.RouteMatch_Path{Path: r.Path}}
	if r.Prefix != "" {
		match = &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: r.Prefix}}
	}
	action := &route.RouteAction{
		ClusterSpecifier: &route.RouteAction_Cluster{Cluster: r.Cluster},
		Timeout:          duration(r.Timeout),
	}
	if c := p.Clusters[r.Cluster]; r.Retries() && c.Retry.NumRetries > 0 {
		action.RetryPolicy = retryPolicy(c.Retry)
	}
	out := &route.Route{
		Name:                 r.Match(),
		Match:                match,
		Action:               &route.Route_Route{Route: action},
		TypedPerFilterConfig: routeLimits(r),
	}
	if r.Auth == policy.RequireJWT {
		out.TypedPerFilterConfig[JWTAuthn] = mustAny(&jwt.PerRouteConfig{
			RequirementSpecifier: &jwt.PerRouteConfig_RequirementName{RequirementName: JWTRequirement},
		})
	}
	return out
}

func retryPolicy(r policy.Retry) *route.RetryPolicy {
	return &route.RetryPolicy{
		RetryOn:              strings.Join(r.RetryOn, ","),
		RetriableStatusCodes: slices.Clone(r.RetriableStatusCodes),
		NumRetries:           wrapperspb.UInt32(r.NumRetries),
		PerTryTimeout:        duration(r.PerTryTimeout),
		RetryBackOff: &route.RetryPolicy_RetryBackOff{
			BaseInterval: duration(r.Backoff.Base),
			MaxInterval:  duration(r.Backoff.Max),
		},
	}
}

func corsPolicy(c policy.CORS) *cors.CorsPolicy {
	origins := make([]*matcher.StringMatcher, 0, len(c.AllowOrigins))
	for _, o := range c.AllowOrigins {
		origins = append(origins, &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: o}})
	}
	return &cors.CorsPolicy{
		AllowOriginStringMatch: origins,
		AllowMethods:           strings.Join(c.AllowMethods, ", "),
		AllowHeaders:           strings.Join(c.AllowHeaders, ", "),
		ExposeHeaders:          strings.Join(c.ExposeHeaders, ", "),
		MaxAge:                 strconv.FormatInt(int64(c.MaxAge.D().Seconds()), 10),
		AllowCredentials:       wrapperspb.Bool(c.AllowCredentials),
		// A preflight from an origin not allowed is answered by the edge (200, no CORS
		// headers), never forwarded to a service.
		ForwardNotMatchingPreflights: wrapperspb.Bool(false),
	}
}

// edgeCluster is CDS cluster name: EDS endpoints, HTTP/2 over mTLS with the edge's SVID from
// SDS, the upstream's SPIFFE ID checked, circuit breaker and outlier detection.
func edgeCluster(name string, c policy.Cluster) *cluster.Cluster {
	out := baseCluster(name, name, c)
	out.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtoOptions: mustAny(&upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &core.Http2ProtocolOptions{},
				},
			},
		},
	})}
	out.TransportSocket = tlsSocket(&tls.UpstreamTlsContext{
		CommonTlsContext: &tls.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tls.SdsSecretConfig{{Name: SVIDSecret, SdsConfig: sdsSource()}},
			ValidationContextType: &tls.CommonTlsContext_CombinedValidationContext{
				CombinedValidationContext: &tls.CommonTlsContext_CombinedCertificateValidationContext{
					DefaultValidationContext: &tls.CertificateValidationContext{
						MatchTypedSubjectAltNames: []*tls.SubjectAltNameMatcher{{
							SanType: tls.SubjectAltNameMatcher_URI,
							Matcher: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: c.SPIFFEID}},
						}},
					},
					ValidationContextSdsSecretConfig: &tls.SdsSecretConfig{Name: BundleSecret, SdsConfig: sdsSource()},
				},
			},
			AlpnProtocols: []string{"h2"},
		},
		Sni: name,
	})
	return out
}

// baseCluster is what the edge's and the proxyless clusters share: EDS through ADS, round
// robin, connect timeout, circuit breaker thresholds and outlier detection.
func baseCluster(name, serviceName string, c policy.Cluster) *cluster.Cluster {
	cb, od := c.CircuitBreaker, c.OutlierDetection
	return &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: serviceName},
		ConnectTimeout:       duration(c.ConnectTimeout),
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		CircuitBreakers: &cluster.CircuitBreakers{Thresholds: []*cluster.CircuitBreakers_Thresholds{{
			Priority:           core.RoutingPriority_DEFAULT,
			MaxConnections:     wrapperspb.UInt32(cb.MaxConnections),
			MaxPendingRequests: wrapperspb.UInt32(cb.MaxPendingRequests),
			MaxRequests:        wrapperspb.UInt32(cb.MaxRequests),
			MaxRetries:         wrapperspb.UInt32(cb.MaxRetries),
		}}},
		OutlierDetection: &cluster.OutlierDetection{
			Consecutive_5Xx:    wrapperspb.UInt32(od.Consecutive5xx),
			Interval:           duration(od.Interval),
			BaseEjectionTime:   duration(od.BaseEjectionTime),
			MaxEjectionPercent: wrapperspb.UInt32(od.MaxEjectionPercent),
		},
	}
}

func httpFilter(name string, config proto.Message) *hcm.HttpFilter {
	return &hcm.HttpFilter{Name: name, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(config)}}
}

func tlsSocket(config proto.Message) *core.TransportSocket {
	return &core.TransportSocket{
		Name:       wellknown.TransportSocketTLS,
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(config)},
	}
}

// adsSource is "config_source { ads {} }" with the v3 resource API.
func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

// sdsSource is SDS over gRPC through the edge's static "spiffe" cluster.
func sdsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion: core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_ApiConfigSource{ApiConfigSource: &core.ApiConfigSource{
			ApiType:             core.ApiConfigSource_GRPC,
			TransportApiVersion: core.ApiVersion_V3,
			GrpcServices: []*core.GrpcService{{TargetSpecifier: &core.GrpcService_EnvoyGrpc_{
				EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: SPIFFECluster},
			}}},
		}},
	}
}

func socketAddress(host string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Address:       host,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}
