package edge_test

import (
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"mercato.dev/edge"
)

func TestEnvoyYAMLParsesStrictlyAndValidates(t *testing.T) {
	t.Parallel()
	b, err := edge.ParseBootstrap(edge.Bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	checkBootstrap(t, b, "/run/spire/sockets/agent.sock", "xds", 18000)
}

func TestLocalBootstrap(t *testing.T) {
	t.Parallel()
	js, err := edge.LocalBootstrap("/tmp/x/agent.sock", "127.0.0.1:28000")
	if err != nil {
		t.Fatal(err)
	}
	b, err := edge.ParseBootstrap(js)
	if err != nil {
		t.Fatal(err)
	}
	checkBootstrap(t, b, "/tmp/x/agent.sock", "127.0.0.1", 28000)
}

func TestParseBootstrapRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"unknown field", "node: {id: edge, colour: blue}", "colour"},
		{"unknown typed config", "static_resources: {clusters: [{name: x, transport_socket: {name: t, typed_config: {'@type': type.googleapis.com/no.Such}}}]}", "no.Such"},
		{"field rule", "static_resources: {clusters: [{name: x, connect_timeout: -1s}]}", "ConnectTimeout"},
		{"rule inside typed config", `static_resources: {clusters: [{name: x, transport_socket: {name: t, typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, sni: "` + strings.Repeat("a", 300) + `"}}}]}`, "Sni"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := edge.ParseBootstrap([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseBootstrap(%s) = %v, want an error naming %q", tt.yaml, err, tt.want)
			}
		})
	}
}

func checkBootstrap(t *testing.T, b *bootstrapv3.Bootstrap, socket, xdsHost string, xdsPort uint32) {
	t.Helper()
	if got := b.GetNode().GetId(); got != "edge" {
		t.Errorf("node id %q, want edge", got)
	}
	dr := b.GetDynamicResources()
	if dr.GetLdsConfig().GetAds() == nil || dr.GetCdsConfig().GetAds() == nil {
		t.Error("LDS and CDS must come over ADS")
	}
	if got := dr.GetAdsConfig().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName(); got != "xds" {
		t.Errorf("ADS cluster %q, want xds", got)
	}
	if a := b.GetAdmin().GetAddress().GetSocketAddress().GetAddress(); a != "127.0.0.1" {
		t.Errorf("admin on %q, want loopback only", a)
	}
	clusters := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
		addr := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
		switch c.GetName() {
		case "spiffe":
			if got := addr.GetPipe().GetPath(); got != socket {
				t.Errorf("spiffe pipe %q, want %q", got, socket)
			}
		case "xds":
			if sa := addr.GetSocketAddress(); sa.GetAddress() != xdsHost || sa.GetPortValue() != xdsPort {
				t.Errorf("xds at %s:%d, want %s:%d", sa.GetAddress(), sa.GetPortValue(), xdsHost, xdsPort)
			}
			u := &tlsv3.UpstreamTlsContext{}
			if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(u); err != nil {
				t.Fatalf("xds cluster transport socket: %v", err)
			}
			checkXDSTLS(t, u)
		}
	}
	if !clusters["spiffe"] || !clusters["xds"] {
		t.Errorf("static clusters %v, want spiffe and xds", clusters)
	}
	checkOverload(t, b)
}

// checkOverload: the global connection cap, and actions on heap pressure.
func checkOverload(t *testing.T, b *bootstrapv3.Bootstrap) {
	t.Helper()
	om := b.GetOverloadManager()
	monitors := map[string]bool{}
	for _, m := range om.GetResourceMonitors() {
		monitors[m.GetName()] = true
	}
	if !monitors["envoy.resource_monitors.global_downstream_max_connections"] || !monitors["envoy.resource_monitors.fixed_heap"] {
		t.Errorf("resource monitors %v, want the global connection cap and the heap", monitors)
	}
	actions := map[string]bool{}
	for _, a := range om.GetActions() {
		actions[a.GetName()] = true
	}
	for _, want := range []string{"envoy.overload_actions.reduce_timeouts", "envoy.overload_actions.stop_accepting_requests", "envoy.overload_actions.reset_high_memory_stream"} {
		if !actions[want] {
			t.Errorf("overload action %s missing (have %v)", want, actions)
		}
	}
	static := b.GetLayeredRuntime().GetLayers()[0].GetStaticLayer().GetFields()
	if static["overload.premature_reset_total_stream_count"].GetNumberValue() == 0 {
		t.Errorf("runtime %v: the rapid-reset bound is not written out", static)
	}
}

func checkXDSTLS(t *testing.T, u *tlsv3.UpstreamTlsContext) {
	t.Helper()
	ctx := u.GetCommonTlsContext()
	if sds := ctx.GetTlsCertificateSdsSecretConfigs(); len(sds) != 1 || sds[0].GetName() != "default" ||
		sds[0].GetSdsConfig().GetApiConfigSource().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != "spiffe" {
		t.Errorf("client certificate must be SDS default from cluster spiffe, got %v", sds)
	}
	cv := ctx.GetCombinedValidationContext()
	if cv.GetValidationContextSdsSecretConfig().GetName() != "ROOTCA" {
		t.Error("trust bundle must be SDS ROOTCA")
	}
	sans := cv.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
	if len(sans) != 1 || sans[0].GetMatcher().GetExact() != "spiffe://mercato.local/xds" {
		t.Errorf("control plane SAN match %v, want exactly spiffe://mercato.local/xds", sans)
	}
}
