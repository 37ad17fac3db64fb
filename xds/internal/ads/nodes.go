package ads

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// Kind is which snapshot a node gets.
type Kind string

// The two kinds of xDS clients of the contract; Unknown nodes are refused.
const (
	Edge      Kind = "edge"      // Envoy or the dev edge: node.id starting "edge"
	Proxyless Kind = "proxyless" // gRPC clients: node.id starting "grpc-" or metadata mercato.client=grpc
	Unknown   Kind = ""
)

// KindOf classifies a node by its id and metadata.
func KindOf(node *core.Node) Kind {
	if node.GetMetadata().GetFields()["mercato.client"].GetStringValue() == "grpc" {
		return Proxyless
	}
	switch id := node.GetId(); {
	case strings.HasPrefix(id, "grpc-"):
		return Proxyless
	case strings.HasPrefix(id, "edge"):
		return Edge
	}
	return Unknown
}

// NodeHash keys the snapshot cache by node kind: every edge shares the edge snapshot, every
// proxyless client the proxyless one.
type NodeHash struct{}

var _ cache.NodeHash = NodeHash{}

// ID implements cache.NodeHash.
func (NodeHash) ID(node *core.Node) string { return string(KindOf(node)) }
