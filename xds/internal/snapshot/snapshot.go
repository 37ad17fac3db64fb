// Package snapshot turns the edge policy and the endpoint registry into xDS snapshots: one for
// the edge (Envoy or the dev edge: LDS "public", RDS "public", one CDS+EDS cluster per
// upstream) and one for proxyless gRPC clients (API listeners). A snapshot is returned only
// when every resource, including every typed config nested in an Any, passes Envoy's proto
// validation, and the snapshot is consistent. Its version is a hash of its content, so equal
// inputs give equal versions.
package snapshot

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/xds/internal/policy"
)

// Endpoint is one registered instance of a cluster.
type Endpoint struct {
	Address  netip.Addr // what Envoy connects to (EDS needs an IP)
	Port     uint32
	Hostname string // as registered, for logs and Envoy's host name
}

// Endpoints are the live endpoints of each cluster.
type Endpoints map[string][]Endpoint

// Set is the pair of snapshots the control plane serves.
type Set struct {
	Edge      *cache.Snapshot
	Proxyless *cache.Snapshot
}

// Build makes and checks both snapshots. An error means nothing should be served from them.
func Build(p *policy.Policy, eps Endpoints) (Set, error) {
	edge, err := build(edgeResources(p, eps))
	if err != nil {
		return Set{}, fmt.Errorf("edge snapshot: %w", err)
	}
	proxyless, err := build(proxylessResources(p, eps))
	if err != nil {
		return Set{}, fmt.Errorf("proxyless snapshot: %w", err)
	}
	return Set{Edge: edge, Proxyless: proxyless}, nil
}

func edgeResources(p *policy.Policy, eps Endpoints) map[resource.Type][]types.Resource {
	res := map[resource.Type][]types.Resource{
		resource.ListenerType: {publicListener(p)},
		resource.RouteType:    {publicRoutes(p)},
	}
	for _, name := range p.ClusterNames() {
		res[resource.ClusterType] = append(res[resource.ClusterType], edgeCluster(name, p.Clusters[name]))
		res[resource.EndpointType] = append(res[resource.EndpointType], loadAssignment(name, eps[name]))
	}
	return res
}

func proxylessResources(p *policy.Policy, eps Endpoints) map[resource.Type][]types.Resource {
	res := map[resource.Type][]types.Resource{}
	for _, name := range p.ClusterNames() {
		res[resource.ListenerType] = append(res[resource.ListenerType], apiListener(p, name))
		res[resource.RouteType] = append(res[resource.RouteType], proxylessRoutes(p, name))
		res[resource.ClusterType] = append(res[resource.ClusterType], baseCluster(ProxylessName(name), name, p.Clusters[name]))
		res[resource.EndpointType] = append(res[resource.EndpointType], loadAssignment(name, eps[name]))
	}
	return res
}

// loadAssignment is EDS for one cluster: its endpoints, sorted, in one locality of weight 1
// (gRPC ignores localities without a weight and rejects those without an ID).
func loadAssignment(name string, eps []Endpoint) *endpoint.ClusterLoadAssignment {
	eps = slices.Clone(eps)
	slices.SortFunc(eps, func(a, b Endpoint) int {
		return cmp.Or(a.Address.Compare(b.Address), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Hostname, b.Hostname))
	})
	cla := &endpoint.ClusterLoadAssignment{ClusterName: name}
	if len(eps) == 0 {
		return cla
	}
	lbs := make([]*endpoint.LbEndpoint, 0, len(eps))
	for _, ep := range eps {
		lbs = append(lbs, &endpoint.LbEndpoint{HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
			Address:  socketAddress(ep.Address.String(), ep.Port),
			Hostname: ep.Hostname,
		}}})
	}
	cla.Endpoints = []*endpoint.LocalityLbEndpoints{{
		Locality:            &core.Locality{Zone: "default"}, // gRPC refuses a locality without one
		LbEndpoints:         lbs,
		LoadBalancingWeight: wrapperspb.UInt32(1),
	}}
	return cla
}

// build validates every resource, versions the snapshot by its content (resources in name
// order) and checks it is consistent.
func build(res map[resource.Type][]types.Resource) (*cache.Snapshot, error) {
	h := sha256.New()
	for _, typ := range []resource.Type{resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType} {
		slices.SortFunc(res[typ], func(a, b types.Resource) int { return cmp.Compare(cache.GetResourceName(a), cache.GetResourceName(b)) })
		for _, r := range res[typ] {
			if err := Validate(r); err != nil {
				return nil, fmt.Errorf("%s %q: %w", shortType(typ), cache.GetResourceName(r), err)
			}
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
			if err != nil {
				return nil, fmt.Errorf("marshal %s %q: %w", shortType(typ), cache.GetResourceName(r), err)
			}
			fmt.Fprintf(h, "%s\x00%s\x00%d\x00", typ, cache.GetResourceName(r), len(b))
			h.Write(b)
		}
	}
	version := hex.EncodeToString(h.Sum(nil))[:16]
	snap, err := cache.NewSnapshot(version, res)
	if err != nil {
		return nil, err
	}
	if err := Consistent(snap); err != nil {
		return nil, err
	}
	return snap, nil
}

// Version is the version of every resource type of snap (they share one).
func Version(snap *cache.Snapshot) string { return snap.GetVersion(resource.ListenerType) }

func shortType(typ resource.Type) string {
	switch typ {
	case resource.ListenerType:
		return "listener"
	case resource.RouteType:
		return "route configuration"
	case resource.ClusterType:
		return "cluster"
	default:
		return "cluster load assignment"
	}
}

func duration(d policy.Duration) *durationpb.Duration { return durationpb.New(time.Duration(d)) }

func mustAny(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	// Deterministic, so that maps inside (the JWT providers, the local replies' JSON format)
	// give the same bytes, hence the same snapshot version, every time.
	err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true})
	if err != nil {
		panic(fmt.Sprintf("snapshot: pack %T: %v", m, err)) // only for messages that cannot marshal
	}
	return a
}
