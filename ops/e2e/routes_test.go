package e2e

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// routesFile is the part of edge/routes.yaml the tests check the edge against (the control
// plane parses it strictly; the tests only read it).
type routesFile struct {
	Listener struct {
		Address string `yaml:"address"`
	} `yaml:"listener"`
	CORS struct {
		AllowOrigins  []string `yaml:"allow_origins"`
		AllowMethods  []string `yaml:"allow_methods"`
		AllowHeaders  []string `yaml:"allow_headers"`
		ExposeHeaders []string `yaml:"expose_headers"`
		MaxAge        string   `yaml:"max_age"`
	} `yaml:"cors"`
	ClusterDefaults clusterPolicy            `yaml:"cluster_defaults"`
	Clusters        map[string]clusterPolicy `yaml:"clusters"`
	Private         []string                 `yaml:"private"`
	Routes          []struct {
		Path    string `yaml:"path"`
		Prefix  string `yaml:"prefix"`
		Cluster string `yaml:"cluster"`
		Auth    string `yaml:"auth"`
	} `yaml:"routes"`
}

type clusterPolicy struct {
	CircuitBreaker   *breakerPolicy `yaml:"circuit_breaker"`
	OutlierDetection *struct {
		Consecutive5xx *uint32 `yaml:"consecutive_5xx"`
	} `yaml:"outlier_detection"`
}

type breakerPolicy struct {
	MaxConnections     *uint32 `yaml:"max_connections"`
	MaxPendingRequests *uint32 `yaml:"max_pending_requests"`
	MaxRequests        *uint32 `yaml:"max_requests"`
	MaxRetries         *uint32 `yaml:"max_retries"`
}

func parseRoutes(b []byte) (routesFile, error) {
	var r routesFile
	if err := yaml.Unmarshal(b, &r); err != nil {
		return r, err
	}
	if len(r.Routes) == 0 || len(r.Clusters) == 0 {
		return r, fmt.Errorf("no routes or clusters")
	}
	for _, rt := range r.Routes {
		if rt.Path == "" {
			return r, fmt.Errorf("route %+v: these tests expect exact paths (a prefix route would need its methods listed)", rt)
		}
	}
	return r, nil
}

// publicMethods maps each routed method to its auth ("anonymous" or "jwt").
func (r routesFile) publicMethods() map[string]string {
	m := map[string]string{}
	for _, rt := range r.Routes {
		m[rt.Path] = rt.Auth
	}
	return m
}

// breaker is a cluster's effective circuit-breaker thresholds: the defaults, overridden field by
// field.
func (r routesFile) breaker(cluster string) map[string]uint32 {
	out := map[string]uint32{}
	set := func(b *breakerPolicy) {
		if b == nil {
			return
		}
		for k, v := range map[string]*uint32{
			"maxConnections": b.MaxConnections, "maxPendingRequests": b.MaxPendingRequests,
			"maxRequests": b.MaxRequests, "maxRetries": b.MaxRetries,
		} {
			if v != nil {
				out[k] = *v
			}
		}
	}
	set(r.ClusterDefaults.CircuitBreaker)
	set(r.Clusters[cluster].CircuitBreaker)
	return out
}

func (r routesFile) consecutive5xx(cluster string) (uint32, bool) {
	if o := r.Clusters[cluster].OutlierDetection; o != nil && o.Consecutive5xx != nil {
		return *o.Consecutive5xx, true
	}
	if o := r.ClusterDefaults.OutlierDetection; o != nil && o.Consecutive5xx != nil {
		return *o.Consecutive5xx, true
	}
	return 0, false
}

func (r routesFile) corsMaxAge() (time.Duration, error) {
	if r.CORS.MaxAge == "" {
		return 2 * time.Hour, nil // the documented default
	}
	return time.ParseDuration(r.CORS.MaxAge)
}
