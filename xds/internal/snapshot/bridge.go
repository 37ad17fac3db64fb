package snapshot

import (
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Bridge is the snapshot to serve between served and next when next drops clusters that
// served has: next's listeners and routes (which no longer use those clusters) with the
// dropped clusters and their endpoints still present. Served for a while before next, it
// makes a client move its routes away before the clusters go, so no request is routed to a
// cluster that is already gone. ok is false when next drops no cluster.
func Bridge(served, next *cache.Snapshot) (bridge *cache.Snapshot, ok bool, err error) {
	if served == nil {
		return nil, false, nil
	}
	nextClusters := next.GetResources(resource.ClusterType)
	res := map[resource.Type][]types.Resource{}
	for _, typ := range []resource.Type{resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType} {
		for _, r := range next.GetResources(typ) {
			res[typ] = append(res[typ], r)
		}
	}
	nextCLAs := next.GetResources(resource.EndpointType)
	oldCLAs := served.GetResources(resource.EndpointType)
	for name, r := range served.GetResources(resource.ClusterType) {
		if _, kept := nextClusters[name]; kept {
			continue
		}
		ok = true
		res[resource.ClusterType] = append(res[resource.ClusterType], r)
		eds := edsName(r.(*cluster.Cluster))
		if _, present := nextCLAs[eds]; !present && oldCLAs[eds] != nil {
			res[resource.EndpointType] = append(res[resource.EndpointType], oldCLAs[eds])
			nextCLAs[eds] = oldCLAs[eds]
		}
	}
	if !ok {
		return nil, false, nil
	}
	bridge, err = build(res)
	return bridge, err == nil, err
}

func edsName(c *cluster.Cluster) string {
	if name := c.GetEdsClusterConfig().GetServiceName(); name != "" {
		return name
	}
	return c.GetName()
}
