package edge

import (
	"fmt"
	"net"
	"strconv"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"mercato.dev/edge/internal/validate"
)

// ParseBootstrap parses an Envoy bootstrap in YAML or JSON strictly, as Envoy does: an unknown
// field or an unresolvable typed config is an error, and so is any violation of Envoy's field
// rules, in the bootstrap or in any typed config it carries.
func ParseBootstrap(data []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: yaml: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if err := validate.Deep(b); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return b, nil
}

// LocalBootstrap is [Bootstrap] for an Envoy running on this machine rather than in a container:
// SDS from the Workload API socket at socketPath, the control plane's ADS at xdsAddr (host:port).
// It returns JSON, which `envoy -c` reads like YAML.
func LocalBootstrap(socketPath, xdsAddr string) ([]byte, error) {
	b, err := ParseBootstrap(Bootstrap)
	if err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(xdsAddr)
	if err != nil {
		return nil, fmt.Errorf("control plane address %q: %w", xdsAddr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("control plane port %q: %w", portStr, err)
	}
	for _, c := range b.GetStaticResources().GetClusters() {
		addr := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
		switch c.GetName() {
		case "spiffe":
			addr.Address = &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: socketPath}}
		case "xds":
			sa := addr.GetSocketAddress()
			sa.Address = host
			sa.PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: uint32(port)}
		case "opentelemetry_collector": // a local collector or Jaeger (make up TRACING=jaeger)
			addr.GetSocketAddress().Address = "127.0.0.1"
		}
	}
	for _, l := range b.GetStaticResources().GetListeners() { // stats on this machine's loopback only
		l.GetAddress().GetSocketAddress().Address = "127.0.0.1"
	}
	if err := validate.Deep(b); err != nil {
		return nil, fmt.Errorf("local bootstrap: %w", err)
	}
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(b)
}
