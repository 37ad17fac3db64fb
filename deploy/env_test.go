package deploy_test

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// cluster is a kustomize build, indexed for the consistency checks.
type cluster struct {
	objs      []runtime.Object
	workloads []workload
	services  []*corev1.Service
}

func newCluster(t *testing.T, dir string) cluster {
	objs := build(t, dir)
	return cluster{objs: objs, workloads: workloads(objs), services: objects[*corev1.Service](objs)}
}

// flow is one designed or configured connection: from a workload to a workload's port.
type flow struct {
	From, To string
	Port     int32
}

func (f flow) String() string { return fmt.Sprintf("%s → %s:%d", f.From, f.To, f.Port) }

// resolve finds the workload and container port behind host:port as a pod of namespace ns
// dials it: <service>, <service>.<ns>, <service>.<ns>.svc[.cluster.local].
func (c cluster) resolve(ns, host string, port int32) (workload, int32, error) {
	parts := strings.Split(strings.TrimSuffix(host, ".cluster.local"), ".")
	name, svcNS := parts[0], ns
	if len(parts) > 1 {
		svcNS = parts[1]
	}
	if len(parts) > 3 || (len(parts) == 3 && parts[2] != "svc") {
		return workload{}, 0, fmt.Errorf("%s is not a Service's DNS name", host)
	}
	for _, svc := range c.services {
		if svc.Name != name || svc.Namespace != svcNS {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if sp.Port != port {
				continue
			}
			for _, w := range c.workloads {
				if w.Namespace != svcNS || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(w.Pod.Labels)) {
					continue
				}
				if p, ok := containerPort(w, sp.TargetPort.String()); ok {
					return w, p, nil
				}
				return w, 0, fmt.Errorf("Service %s/%s port %d: target %s is no port of %s", svcNS, name, port, sp.TargetPort.String(), w)
			}
			return workload{}, 0, fmt.Errorf("Service %s/%s selects no workload", svcNS, name)
		}
		return workload{}, 0, fmt.Errorf("Service %s/%s has no port %d", svcNS, name, port)
	}
	return workload{}, 0, fmt.Errorf("no Service %s/%s", svcNS, name)
}

// containerPort resolves a port name or number against the workload's containers.
func containerPort(w workload, port string) (int32, bool) {
	for _, c := range w.Pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port || strconv.Itoa(int(p.ContainerPort)) == port {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// listens returns the ports a container binds on every interface (its *_ADDR variables set to
// 0.0.0.0:port), by variable.
func listens(c corev1.Container) map[string]int32 {
	out := map[string]int32{}
	for _, e := range c.Env {
		if host, port, err := net.SplitHostPort(e.Value); err == nil && host == "0.0.0.0" && strings.HasSuffix(e.Name, "_ADDR") {
			p, _ := strconv.Atoi(port)
			out[e.Name] = int32(p)
		}
	}
	return out
}

// otherListeners are addresses a binary hands to another process rather than binds itself.
var otherListeners = map[string]string{"XDS_PUBLIC_ADDR": "edge"}

// mountFor returns the volume mounted at the deepest mount path containing p (an empty Volume
// for a StatefulSet's claim).
func mountFor(w workload, c corev1.Container, p string) (corev1.VolumeMount, corev1.Volume, bool) {
	var best corev1.VolumeMount
	for _, m := range c.VolumeMounts {
		if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(best.MountPath) {
			best = m
		}
	}
	for _, v := range w.Pod.Spec.Volumes {
		if best.Name != "" && v.Name == best.Name {
			return best, v, true
		}
	}
	return best, corev1.Volume{}, best.Name != ""
}

// image returns the Mercato binary name of an image mercato/<name>[:tag], or "".
func image(c corev1.Container) string {
	name, ok := strings.CutPrefix(c.Image, "mercato/")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, ":")
	return name
}

// Every variable, port and path of every Mercato container in Kubernetes matches what its
// binary reads and serves, and every address it dials reaches a workload that listens there.
func TestKubernetesEnvMatchesBinaries(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"base", "overlays/local"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, dir)
			flows := checkKubernetesEnv(t, c, dir == "overlays/local")
			for _, f := range flows {
				if !slices.Contains(designedFlows, f) {
					t.Errorf("configured flow %s is not in the designed call graph", f)
				}
			}
			// Every designed flow a binary dials by configuration is configured (the edge
			// learns its upstreams over xDS; checkEdge covers its way to the control plane).
			for _, f := range designedFlows {
				if f.From != "edge" && !slices.Contains(flows, f) {
					t.Errorf("designed flow %s: %s has no variable pointing there", f, f.From)
				}
			}
			if dir == "base" {
				checkEdge(t, c)
			}
		})
	}
}

// checkKubernetesEnv checks every container built from a Mercato image and returns the flows
// its configuration makes.
func checkKubernetesEnv(t *testing.T, c cluster, secrets bool) []flow {
	t.Helper()
	var flows []flow
	for _, w := range c.workloads {
		for _, ctr := range w.Pod.Spec.Containers {
			name := image(ctr)
			if name == "" {
				continue
			}
			pkg, known := binaries[name]
			if !known {
				t.Errorf("%s: image %s is no Mercato binary", w, ctr.Image)
				continue
			}
			src := binarySource(t, pkg)
			if src == nil {
				t.Errorf("%s: %s does not exist", w, pkg)
				continue
			}
			flows = append(flows, checkContainer(t, c, w, ctr, src, secrets)...)
		}
	}
	return flows
}

func checkContainer(t *testing.T, c cluster, w workload, ctr corev1.Container, src *source, secrets bool) []flow {
	t.Helper()
	var flows []flow
	bound := listens(ctr)
	for _, e := range ctr.Env {
		if !src.env[e.Name] {
			t.Errorf("%s: sets %s, which %s never reads", w, e.Name, image(ctr))
		}
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil && secrets && (ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional) {
			checkSecret(t, c, w, e.ValueFrom.SecretKeyRef)
		}
		if to, ok := otherListeners[e.Name]; ok {
			checkHandedListener(t, c, w, e, to)
			continue
		}
		if f, ok := checkDial(t, c, w, e); ok {
			flows = append(flows, f)
		}
		checkPath(t, c, w, ctr, e)
	}
	if slices.Contains(services, image(ctr)) {
		for _, want := range []string{strings.ToUpper(image(ctr)) + "_DATABASE_URL", "ADVERTISE_HOST", "XDS_REGISTRATION_ADDR", "SPIFFE_ENDPOINT_SOCKET"} {
			if !slices.ContainsFunc(ctr.Env, func(e corev1.EnvVar) bool { return e.Name == want }) {
				t.Errorf("%s: %s unset (its local default does not work in a cluster)", w, want)
			}
		}
	}
	handed := 0
	for _, e := range ctr.Env {
		if _, ok := otherListeners[e.Name]; ok {
			handed++
		}
	}
	for _, p := range ctr.Ports {
		found := false
		for name, port := range bound {
			if _, other := otherListeners[name]; port == p.ContainerPort && !other {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: container port %s (%d) is bound by no *_ADDR variable on 0.0.0.0", w, p.Name, p.ContainerPort)
		}
	}
	if len(bound)-handed != len(ctr.Ports) {
		t.Errorf("%s: binds %v but declares ports %v", w, bound, ctr.Ports)
	}
	for _, probe := range []*corev1.Probe{ctr.ReadinessProbe, ctr.LivenessProbe, ctr.StartupProbe} {
		if probe == nil || probe.HTTPGet == nil {
			continue
		}
		if !src.serves(probe.HTTPGet.Path) {
			t.Errorf("%s: probe path %s is served by nothing in %s", w, probe.HTTPGet.Path, image(ctr))
		}
		port, ok := containerPort(w, probe.HTTPGet.Port.String())
		admin := false
		for name, p := range bound {
			admin = admin || (p == port && strings.HasSuffix(name, "ADMIN_ADDR"))
		}
		if !ok || !admin {
			t.Errorf("%s: probe port %s is not the admin listener (%v)", w, probe.HTTPGet.Port.String(), bound)
		}
	}
	return flows
}

// checkDial checks an address variable naming another workload: host:port or a URL.
func checkDial(t *testing.T, c cluster, w workload, e corev1.EnvVar) (flow, bool) {
	t.Helper()
	v := e.Value
	u, err := url.Parse(v)
	if err == nil && strings.Contains(v, "://") && u.Host == "" {
		return flow{}, false // a unix:// socket: checkPath's
	}
	if err == nil && u.Scheme != "" && u.Host != "" {
		if u.Scheme == "postgres" {
			return flow{}, false
		}
		if e.Name == "NATS_URL" && u.Scheme != "tls" {
			t.Errorf("%s: NATS_URL %s: the broker takes mTLS clients only (tls://)", w, v)
		}
		v = u.Host
	}
	host, portStr, err := net.SplitHostPort(v)
	if err != nil || host == "0.0.0.0" || net.ParseIP(host) != nil {
		if err == nil && host != "0.0.0.0" {
			t.Errorf("%s: %s=%s dials a fixed IP, not a Service", w, e.Name, v)
		}
		return flow{}, false
	}
	port, _ := strconv.Atoi(portStr)
	target, targetPort, err := c.resolve(w.Namespace, host, int32(port))
	if err != nil {
		t.Errorf("%s: %s=%s: %v", w, e.Name, e.Value, err)
		return flow{}, false
	}
	listening := false
	for _, tc := range target.Pod.Spec.Containers {
		for name, p := range listens(tc) {
			if _, other := otherListeners[name]; p == targetPort && !other {
				listening = true
			}
		}
	}
	if !listening {
		t.Errorf("%s: %s=%s: %s does not listen on %d", w, e.Name, e.Value, target, targetPort)
	}
	return flow{w.Name, target.Name, targetPort}, true
}

// checkHandedListener: an address the control plane tells another workload (Envoy) to bind must
// be one of that workload's container ports.
func checkHandedListener(t *testing.T, c cluster, w workload, e corev1.EnvVar, to string) {
	t.Helper()
	_, portStr, err := net.SplitHostPort(e.Value)
	if err != nil {
		t.Errorf("%s: %s=%s: %v", w, e.Name, e.Value, err)
		return
	}
	for _, other := range c.workloads {
		if other.Name == to && other.Namespace == w.Namespace {
			if _, ok := containerPort(other, portStr); !ok {
				t.Errorf("%s: %s=%s, but %s has no container port %s", w, e.Name, e.Value, other, portStr)
			}
			return
		}
	}
	t.Errorf("%s: %s names workload %s, which is not deployed", w, e.Name, to)
}

// checkPath checks the paths a variable names against the container's mounts.
func checkPath(t *testing.T, c cluster, w workload, ctr corev1.Container, e corev1.EnvVar) {
	t.Helper()
	switch e.Name {
	case "SPIFFE_ENDPOINT_SOCKET":
		p, ok := strings.CutPrefix(e.Value, "unix://")
		if !ok {
			t.Errorf("%s: SPIFFE_ENDPOINT_SOCKET=%s is not unix://", w, e.Value)
			return
		}
		m, v, found := mountFor(w, ctr, p)
		if !found || v.CSI == nil || v.CSI.Driver != "csi.spiffe.io" || path.Dir(p) != m.MountPath || path.Base(p) != "agent.sock" {
			t.Errorf("%s: SPIFFE_ENDPOINT_SOCKET=%s is not agent.sock in a csi.spiffe.io volume", w, e.Value)
		}
	case "MERCATO_DATA", "BROKER_STORE_DIR":
		m, v, found := mountFor(w, ctr, e.Value)
		if !found || m.ReadOnly || (v.EmptyDir == nil && !claimed(c, w, m.Name)) {
			t.Errorf("%s: %s=%s is not on a writable volume (the root filesystem is read-only)", w, e.Name, e.Value)
		}
		if e.Name == "BROKER_STORE_DIR" && !claimed(c, w, m.Name) {
			t.Errorf("%s: BROKER_STORE_DIR=%s is not on a persistent volume", w, e.Value)
		}
	case "XDS_ROUTES":
		checkConfigMapFile(t, c, w, ctr, e.Value, readFile(t, "edge/routes.yaml"))
	}
}

// claimed reports whether volume name of w comes from a StatefulSet's volumeClaimTemplates.
func claimed(c cluster, w workload, name string) bool {
	for _, ss := range objects[*appsv1.StatefulSet](c.objs) {
		if ss.Name == w.Name && ss.Namespace == w.Namespace {
			for _, tmpl := range ss.Spec.VolumeClaimTemplates {
				if tmpl.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// checkConfigMapFile: file is mounted from a ConfigMap of the build holding want.
func checkConfigMapFile(t *testing.T, c cluster, w workload, ctr corev1.Container, file, want string) {
	t.Helper()
	m, v, found := mountFor(w, ctr, file)
	if !found || v.ConfigMap == nil {
		t.Errorf("%s: %s is not mounted from a ConfigMap", w, file)
		return
	}
	key := strings.TrimPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
	for _, cm := range objects[*corev1.ConfigMap](c.objs) {
		if cm.Name == v.ConfigMap.Name && cm.Namespace == w.Namespace {
			if cm.Data[key] != want {
				t.Errorf("%s: %s: ConfigMap %s key %s is not the repository's file", w, file, cm.Name, key)
			}
			return
		}
	}
	t.Errorf("%s: %s: ConfigMap %s is not in the build", w, file, v.ConfigMap.Name)
}

func checkSecret(t *testing.T, c cluster, w workload, ref *corev1.SecretKeySelector) {
	t.Helper()
	for _, s := range objects[*corev1.Secret](c.objs) {
		if s.Name == ref.Name && s.Namespace == w.Namespace {
			if _, ok := s.Data[ref.Key]; !ok {
				t.Errorf("%s: Secret %s has no key %s", w, ref.Name, ref.Key)
			}
			return
		}
	}
	t.Errorf("%s: Secret %s is not in the build", w, ref.Name)
}

// envoyBootstrap is the part of edge/envoy.yaml the deployment must agree with.
type envoyBootstrap struct {
	StaticResources struct {
		Clusters []struct {
			Name           string `json:"name"`
			LoadAssignment struct {
				Endpoints []struct {
					LBEndpoints []struct {
						Endpoint struct {
							Address struct {
								SocketAddress *struct {
									Address   string `json:"address"`
									PortValue int32  `json:"port_value"`
								} `json:"socket_address"`
								Pipe *struct {
									Path string `json:"path"`
								} `json:"pipe"`
							} `json:"address"`
						} `json:"endpoint"`
					} `json:"lb_endpoints"`
				} `json:"endpoints"`
			} `json:"load_assignment"`
		} `json:"clusters"`
	} `json:"static_resources"`
}

// routesTLS is the public certificate's place in edge/routes.yaml.
type routesTLS struct {
	Listener struct {
		TLS struct {
			CertFile string `json:"cert_file"`
			KeyFile  string `json:"key_file"`
		} `json:"tls"`
	} `json:"listener"`
}

// checkEdge: Envoy runs the repository's bootstrap, reaches the control plane and the SPIFFE
// socket where the bootstrap says, and has the public certificate where the control plane tells
// it to look.
func checkEdge(t *testing.T, c cluster) {
	t.Helper()
	var edge, xds workload
	for _, w := range c.workloads {
		switch {
		case w.Namespace == "mercato" && w.Name == "edge":
			edge = w
		case w.Namespace == "mercato" && w.Name == "xds":
			xds = w
		}
	}
	if edge.Name == "" || xds.Name == "" {
		t.Fatal("edge or xds not deployed")
	}
	envoy := edge.Pod.Spec.Containers[0]
	i := slices.Index(envoy.Args, "-c")
	if i < 0 || i+1 >= len(envoy.Args) {
		t.Fatalf("%s: no -c bootstrap argument in %q", edge, envoy.Args)
	}
	bootstrap := readFile(t, "edge/envoy.yaml")
	checkConfigMapFile(t, c, edge, envoy, envoy.Args[i+1], bootstrap)
	var b envoyBootstrap
	if err := yaml.Unmarshal([]byte(bootstrap), &b); err != nil {
		t.Fatal(err)
	}
	for _, cl := range b.StaticResources.Clusters {
		for _, eps := range cl.LoadAssignment.Endpoints {
			for _, ep := range eps.LBEndpoints {
				a := ep.Endpoint.Address
				switch {
				case a.Pipe != nil:
					m, v, ok := mountFor(edge, envoy, a.Pipe.Path)
					if !ok || v.CSI == nil || v.CSI.Driver != "csi.spiffe.io" || path.Dir(a.Pipe.Path) != m.MountPath {
						t.Errorf("%s: bootstrap cluster %s: %s is not in a csi.spiffe.io volume", edge, cl.Name, a.Pipe.Path)
					}
				case a.SocketAddress != nil && isLoopback(a.SocketAddress.Address):
					// Envoy's own admin interface.
				case a.SocketAddress != nil && cl.Name != "xds":
					// Provided by the platform (the OpenTelemetry collector): say so in the base.
					want := fmt.Sprintf("%s:%d", a.SocketAddress.Address, a.SocketAddress.PortValue)
					if !strings.Contains(readFile(t, "deploy/k8s/base/kustomization.yaml"), want) {
						t.Errorf("%s: bootstrap cluster %s dials %s, which the base neither deploys nor lists as expected from the cluster", edge, cl.Name, want)
					}
				case a.SocketAddress != nil:
					target, port, err := c.resolve("mercato", a.SocketAddress.Address, a.SocketAddress.PortValue)
					if err != nil || target.Name != "xds" || listens(xds.Pod.Spec.Containers[0])["XDS_ADS_ADDR"] != port {
						t.Errorf("%s: bootstrap cluster %s: %s:%d is not the control plane's ADS listener (%v)",
							edge, cl.Name, a.SocketAddress.Address, a.SocketAddress.PortValue, err)
					}
				}
			}
		}
	}
	var routes routesTLS
	if err := yaml.Unmarshal([]byte(readFile(t, "edge/routes.yaml")), &routes); err != nil {
		t.Fatal(err)
	}
	dataDir := ""
	for _, e := range xds.Pod.Spec.Containers[0].Env {
		if e.Name == "XDS_EDGE_DATA_DIR" {
			dataDir = e.Value
		}
	}
	if dataDir == "" {
		t.Fatalf("%s: XDS_EDGE_DATA_DIR unset: routes.yaml's relative certificate paths would resolve in the control plane's data directory", xds)
	}
	for _, f := range []string{routes.Listener.TLS.CertFile, routes.Listener.TLS.KeyFile} {
		p := path.Join(dataDir, f)
		m, v, ok := mountFor(edge, envoy, p)
		rel := strings.TrimPrefix(p, m.MountPath+"/")
		if !ok || v.Secret == nil || !slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == rel }) {
			t.Errorf("%s: the public certificate file %s is not mounted from a Secret", edge, p)
		}
	}
}
