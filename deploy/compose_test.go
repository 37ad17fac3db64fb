package deploy_test

import (
	"context"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/hashicorp/hcl"
	"sigs.k8s.io/yaml"
)

// loadCompose parses compose.yaml as `docker compose` does (no engine needed).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	file := filepath.Join(root, "compose.yaml")
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(root), cli.WithName("mercato"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

// composeBinary returns the binary a compose service builds (from its Dockerfile's folder).
func composeBinary(s types.ServiceConfig) string {
	if s.Build == nil {
		return ""
	}
	dir := path.Dir(filepath.ToSlash(s.Build.Dockerfile))
	for name, pkg := range binaries {
		if strings.HasPrefix(strings.TrimPrefix(pkg, "mercato.dev/"), dir+"/cmd/") {
			return name
		}
	}
	return ""
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// composeListens: the ports a service binds on every interface, by variable.
func composeListens(s types.ServiceConfig) map[string]int {
	out := map[string]int{}
	for _, e := range s.Expose { // a third-party image declares its listeners with expose
		if port, err := strconv.Atoi(e); err == nil {
			out["expose "+e] = port
		}
	}
	for name, v := range s.Environment {
		if v == nil || !strings.HasSuffix(name, "_ADDR") {
			continue
		}
		if host, port, err := net.SplitHostPort(*v); err == nil && host == "0.0.0.0" {
			out[name], _ = strconv.Atoi(port)
		}
	}
	return out
}

// composeMount returns the mount of s whose target holds p.
func composeMount(s types.ServiceConfig, p string) (types.ServiceVolumeConfig, bool) {
	var best types.ServiceVolumeConfig
	for _, v := range s.Volumes {
		if (p == v.Target || strings.HasPrefix(p, strings.TrimSuffix(v.Target, "/")+"/")) && len(v.Target) > len(best.Target) {
			best = v
		}
	}
	return best, best.Target != ""
}

// Every variable of every Mercato container in compose is one its binary reads; every address
// it dials is a compose service listening there; its SPIFFE socket is the agent's.
func TestComposeEnvMatchesBinaries(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	agentSockets := spireAgentSocketVolume(t, p)
	checked := 0
	for _, s := range p.Services {
		name := composeBinary(s)
		if name == "" {
			continue
		}
		checked++
		src := binarySource(t, binaries[name])
		if src == nil {
			t.Errorf("compose %s: %s does not exist", s.Name, binaries[name])
			continue
		}
		for k, v := range s.Environment {
			if !src.env[k] {
				t.Errorf("compose %s: sets %s, which %s never reads", s.Name, k, name)
			}
			if v == nil {
				continue
			}
			checkComposeDial(t, p, s, k, *v)
		}
		sock, ok := strings.CutPrefix(env(s, "SPIFFE_ENDPOINT_SOCKET"), "unix://")
		if m, found := composeMount(s, sock); !ok || !found || m.Source != agentSockets || path.Dir(sock) != m.Target {
			t.Errorf("compose %s: SPIFFE_ENDPOINT_SOCKET %q is not in the SPIRE agent's socket volume %q", s.Name, sock, agentSockets)
		}
		if routes := env(s, "XDS_ROUTES"); routes != "" {
			if m, found := composeMount(s, routes); !found || m.Target != routes || m.Source != filepath.Join(absRoot(t), "edge", "routes.yaml") {
				t.Errorf("compose %s: XDS_ROUTES %s is not edge/routes.yaml mounted (%+v)", s.Name, routes, m)
			}
		}
	}
	if checked < 7 {
		t.Errorf("checked %d compose services built from this repository, want the five services, xds and the broker", checked)
	}
	checkComposeEdge(t, p, agentSockets)
}

func absRoot(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkComposeDial: host:port values naming a compose service reach a listener of it.
func checkComposeDial(t *testing.T, p *types.Project, s types.ServiceConfig, name, value string) {
	t.Helper()
	if u, err := url.Parse(value); err == nil && strings.Contains(value, "://") {
		if u.Host == "" || u.Scheme == "postgres" {
			return // a unix socket, or the database
		}
		if name == "NATS_URL" && u.Scheme != "tls" {
			t.Errorf("compose %s: NATS_URL %s: the broker takes mTLS clients only (tls://)", s.Name, value)
		}
		value = u.Host
	}
	host, portStr, err := net.SplitHostPort(value)
	if err != nil || host == "0.0.0.0" || host == "127.0.0.1" || host == "localhost" {
		return // not an address, or the container's own (Envoy's admin for its stats listener)
	}
	port, _ := strconv.Atoi(portStr)
	target, err := p.GetService(host)
	if err != nil {
		t.Errorf("compose %s: %s=%s: no service %q", s.Name, name, value, host)
		return
	}
	if composeBinary(target) == "" {
		return // a third-party image (the collector, Jaeger): its listeners are its own
	}
	for _, bound := range composeListens(target) {
		if bound == port {
			return
		}
	}
	t.Errorf("compose %s: %s=%s: %s does not listen on %d (%v)", s.Name, name, value, host, port, composeListens(target))
}

// spireAgentSocketVolume: the volume at the directory of agent.conf's socket_path.
func spireAgentSocketVolume(t *testing.T, p *types.Project) string {
	t.Helper()
	var conf struct {
		Agent map[string]any `hcl:"agent"`
	}
	if err := hcl.Decode(&conf, readFile(t, "certs/spire/compose/agent.conf")); err != nil {
		t.Fatalf("agent.conf: %v", err)
	}
	socket, _ := conf.Agent["socket_path"].(string)
	if socket == "" {
		t.Fatalf("agent.conf: no socket_path in %v", conf.Agent)
	}
	agent, err := p.GetService("spire-agent")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := composeMount(agent, socket)
	if !ok || m.Type != types.VolumeTypeVolume || m.ReadOnly {
		t.Fatalf("spire-agent: its socket %s is not on a writable named volume", socket)
	}
	return m.Source
}

// Envoy in compose runs the repository's bootstrap, finds the SPIFFE socket and the control
// plane where it says, binds where it publishes, and has its certificate where the control plane
// points it.
func checkComposeEdge(t *testing.T, p *types.Project, agentSockets string) {
	t.Helper()
	edge, err := p.GetService("edge")
	if err != nil {
		t.Fatal(err)
	}
	xds, err := p.GetService("xds")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(edge.Command, "-c")
	if i < 0 || i+1 >= len(edge.Command) {
		t.Fatalf("compose edge: no -c in %q", edge.Command)
	}
	if m, ok := composeMount(edge, edge.Command[i+1]); !ok || m.Source != filepath.Join(absRoot(t), "edge", "envoy.yaml") {
		t.Errorf("compose edge: bootstrap %s is not edge/envoy.yaml", edge.Command[i+1])
	}
	var b envoyBootstrap
	if err := yaml.Unmarshal([]byte(readFile(t, "edge/envoy.yaml")), &b); err != nil {
		t.Fatal(err)
	}
	for _, cl := range b.StaticResources.Clusters {
		for _, eps := range cl.LoadAssignment.Endpoints {
			for _, ep := range eps.LBEndpoints {
				a := ep.Endpoint.Address
				if a.Pipe != nil {
					if m, ok := composeMount(edge, a.Pipe.Path); !ok || m.Source != agentSockets {
						t.Errorf("compose edge: %s is not in the SPIRE agent's socket volume", a.Pipe.Path)
					}
				}
				if a.SocketAddress != nil && !isLoopback(a.SocketAddress.Address) {
					checkComposeDial(t, p, edge, "bootstrap cluster "+cl.Name, net.JoinHostPort(a.SocketAddress.Address, strconv.Itoa(int(a.SocketAddress.PortValue))))
				}
			}
		}
	}
	host, port, err := net.SplitHostPort(env(xds, "XDS_PUBLIC_ADDR"))
	if err != nil || host != "0.0.0.0" || len(edge.Ports) != 1 || edge.Ports[0].Target != uint32(atoi(port)) {
		t.Errorf("compose: XDS_PUBLIC_ADDR %q is not the port edge publishes (%+v)", env(xds, "XDS_PUBLIC_ADDR"), edge.Ports)
	}
	var routes routesTLS
	if err := yaml.Unmarshal([]byte(readFile(t, "edge/routes.yaml")), &routes); err != nil {
		t.Fatal(err)
	}
	dataDir := env(xds, "XDS_EDGE_DATA_DIR")
	for _, f := range []string{routes.Listener.TLS.CertFile, routes.Listener.TLS.KeyFile} {
		if _, ok := composeMount(edge, path.Join(dataDir, f)); dataDir == "" || !ok {
			t.Errorf("compose edge: the public certificate file %s (XDS_EDGE_DATA_DIR %q) is not mounted", path.Join(dataDir, f), dataDir)
		}
	}
}

// isLoopback: Envoy's own admin interface, not another container.
func isLoopback(host string) bool { ip := net.ParseIP(host); return ip != nil && ip.IsLoopback() }

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// The SPIRE containers in compose find every file their configuration names.
func TestComposeSPIREFiles(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	for _, tc := range []struct{ service, conf string }{
		{"spire-server", "certs/spire/compose/server.conf"},
		{"spire-agent", "certs/spire/compose/agent.conf"},
	} {
		s, err := p.GetService(tc.service)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.Index(s.Command, "-config")
		if i < 0 || i+1 >= len(s.Command) {
			t.Fatalf("%s: no -config in %q", tc.service, s.Command)
		}
		if m, ok := composeMount(s, s.Command[i+1]); !ok || m.Source != filepath.Join(absRoot(t), filepath.FromSlash(tc.conf)) {
			t.Errorf("%s: -config %s is not %s", tc.service, s.Command[i+1], tc.conf)
		}
		if slices.Contains(s.Command, "-joinToken") {
			t.Errorf("%s: still attests with a join token", tc.service)
		}
		for _, f := range confPaths(readFile(t, tc.conf)) {
			if _, ok := composeMount(s, f); !ok {
				t.Errorf("%s: %s (named in %s) is not mounted", tc.service, f, tc.conf)
			}
		}
	}
}

// confPaths lists the absolute file paths a SPIRE configuration names (`key = "/…"`).
func confPaths(conf string) []string {
	var out []string
	for _, line := range strings.Split(conf, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		v = strings.Trim(strings.TrimSpace(v), `"`)
		k = strings.TrimSpace(k)
		file := (strings.HasSuffix(k, "_path") && k != "live_path" && k != "ready_path") || strings.HasSuffix(k, "_dir") || k == "directory" || k == "connection_string"
		if ok && file && strings.HasPrefix(v, "/") {
			out = append(out, v)
		}
	}
	return out
}
