package devedge

import (
	"fmt"
	"maps"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"mercato.dev/edge/internal/validate"
)

// resources is the accepted state of the world: every resource of each type, and its version.
type resources struct {
	listeners map[string]*listenerv3.Listener
	routes    map[string]*routev3.RouteConfiguration
	clusters  map[string]*clusterv3.Cluster
	endpoints map[string]*endpointv3.ClusterLoadAssignment
	versions  map[string]string // by type URL
}

func newResources() resources {
	return resources{
		listeners: map[string]*listenerv3.Listener{},
		routes:    map[string]*routev3.RouteConfiguration{},
		clusters:  map[string]*clusterv3.Cluster{},
		endpoints: map[string]*endpointv3.ClusterLoadAssignment{},
		versions:  map[string]string{},
	}
}

// with returns a copy of r whose resources of typeURL are replaced by those in msgs.
func (r resources) with(typeURL, version string, msgs []*anypb.Any) (resources, error) {
	next := resources{listeners: r.listeners, routes: r.routes, clusters: r.clusters, endpoints: r.endpoints, versions: maps.Clone(r.versions)}
	next.versions[typeURL] = version
	var err error
	switch typeURL {
	case resourcev3.ListenerType:
		next.listeners, err = decode(msgs, func() *listenerv3.Listener { return &listenerv3.Listener{} }, (*listenerv3.Listener).GetName)
	case resourcev3.RouteType:
		next.routes, err = decode(msgs, func() *routev3.RouteConfiguration { return &routev3.RouteConfiguration{} }, (*routev3.RouteConfiguration).GetName)
	case resourcev3.ClusterType:
		next.clusters, err = decode(msgs, func() *clusterv3.Cluster { return &clusterv3.Cluster{} }, (*clusterv3.Cluster).GetName)
	case resourcev3.EndpointType:
		next.endpoints, err = decode(msgs, func() *endpointv3.ClusterLoadAssignment { return &endpointv3.ClusterLoadAssignment{} }, (*endpointv3.ClusterLoadAssignment).GetClusterName)
	default:
		err = fmt.Errorf("resource type %s is not used by the edge", typeURL)
	}
	return next, err
}

// decode unmarshals and validates (Envoy's proto rules, typed configs included) every resource.
func decode[M proto.Message](msgs []*anypb.Any, alloc func() M, name func(M) string) (map[string]M, error) {
	out := make(map[string]M, len(msgs))
	for _, a := range msgs {
		m := alloc()
		if err := a.UnmarshalTo(m); err != nil {
			return nil, fmt.Errorf("resource of type %s: %w", a.GetTypeUrl(), err)
		}
		n := name(m)
		if _, dup := out[n]; dup {
			return nil, fmt.Errorf("resource %q sent twice", n)
		}
		if err := validate.Deep(m); err != nil {
			return nil, fmt.Errorf("resource %q: %w", n, err)
		}
		out[n] = m
	}
	return out, nil
}

// edsNames are the EDS service names of the EDS clusters.
func (r resources) edsNames() []string {
	var names []string
	for name, c := range r.clusters {
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		if sn := c.GetEdsClusterConfig().GetServiceName(); sn != "" {
			name = sn
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// rdsNames are the route configurations the listeners' connection managers name.
func (r resources) rdsNames() []string {
	var names []string
	for _, l := range r.listeners {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				m := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(m) == nil && m.GetRds() != nil {
					names = append(names, m.GetRds().GetRouteConfigName())
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
