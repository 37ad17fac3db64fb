package policy

import "time"

// defaults are what an omitted field means; the contract fixes most of them.
func defaults() Policy {
	return Policy{
		Listener: Listener{
			Address:             "127.0.0.1:8443",
			TLS:                 TLS{CertFile: "edge/cert.pem", KeyFile: "edge/key.pem"},
			ClientAddressHeader: "x-mercato-client-address",
			Connections: Connections{
				MaxConnections:        10000,
				IdleTimeout:           Duration(5 * time.Minute),
				RequestHeadersTimeout: Duration(10 * time.Second),
				StreamIdleTimeout:     Duration(time.Minute),
				MaxConcurrentStreams:  100,
			},
		},
		RouteDefaults: RouteLimits{MaxRequestBytes: 1 << 20},
		JWT: JWT{
			Provider:  "customers",
			Issuer:    "mercato.customers",
			Audiences: []string{"mercato"},
			JWKS: JWKS{
				URI:           "https://customers/.well-known/jwks.json",
				Cluster:       "customers",
				Timeout:       Duration(2 * time.Second),
				CacheDuration: Duration(300 * time.Second),
			},
			ForwardPayloadHeader: "x-mercato-claims",
		},
		CORS:      CORS{AllowMethods: []string{"GET", "POST", "OPTIONS"}, MaxAge: Duration(2 * time.Hour)},
		Proxyless: Proxyless{Domain: "mercato.local"},
	}
}

// clusterDefaults apply to every cluster before cluster_defaults and the cluster's own fields.
func clusterDefaults() Cluster {
	return Cluster{
		ConnectTimeout: Duration(time.Second),
		Timeout:        Duration(5 * time.Second),
		Retry: Retry{
			NumRetries:           2,
			PerTryTimeout:        Duration(2 * time.Second),
			RetryOn:              []string{"unavailable", "reset", "connect-failure", "retriable-status-codes"},
			RetriableStatusCodes: []uint32{503},
			Backoff:              Backoff{Base: Duration(25 * time.Millisecond), Max: Duration(250 * time.Millisecond)},
		},
		CircuitBreaker: CircuitBreaker{MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3},
		OutlierDetection: OutlierDetection{
			Consecutive5xx:     5,
			Interval:           Duration(10 * time.Second),
			BaseEjectionTime:   Duration(30 * time.Second),
			MaxEjectionPercent: 50,
		},
	}
}
