package ads_test

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"mercato.dev/xds/internal/ads"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	grpcMeta, _ := structpb.NewStruct(map[string]any{"mercato.client": "grpc"})
	tests := []struct {
		name string
		node *core.Node
		want ads.Kind
	}{
		{"envoy", &core.Node{Id: "edge"}, ads.Edge},
		{"edge replica", &core.Node{Id: "edge-7f9c"}, ads.Edge},
		{"proxyless by id", &core.Node{Id: "grpc-orders-1"}, ads.Proxyless},
		{"proxyless by metadata", &core.Node{Id: "orders-1", Metadata: grpcMeta}, ads.Proxyless},
		{"metadata wins", &core.Node{Id: "edge", Metadata: grpcMeta}, ads.Proxyless},
		{"unknown", &core.Node{Id: "orders"}, ads.Unknown},
		{"grpc without dash", &core.Node{Id: "grpcclient"}, ads.Unknown},
		{"no node", nil, ads.Unknown},
	}
	for _, tc := range tests {
		if got := ads.KindOf(tc.node); got != tc.want {
			t.Errorf("%s: KindOf = %q, want %q", tc.name, got, tc.want)
		}
		if got := (ads.NodeHash{}).ID(tc.node); got != string(tc.want) {
			t.Errorf("%s: NodeHash = %q", tc.name, got)
		}
	}
}
