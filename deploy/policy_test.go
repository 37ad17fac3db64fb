package deploy_test

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// peer is one end of a connection as NetworkPolicies see it.
type peer struct {
	Name      string
	Namespace string            // "" for an address outside the cluster
	NSLabels  map[string]string // the namespace's labels
	Labels    map[string]string // the pod's labels
	Ports     []corev1.ContainerPort
}

func podPeer(w workload) peer {
	var ports []corev1.ContainerPort
	for _, c := range w.Pod.Spec.Containers {
		ports = append(ports, c.Ports...)
	}
	return peer{w.Name, w.Namespace, map[string]string{"kubernetes.io/metadata.name": w.Namespace}, w.Pod.Labels, ports}
}

// Peers outside namespace mercato that policies mention.
var (
	internet   = peer{Name: "internet"}
	monitoring = peer{Name: "monitoring", Namespace: "monitoring", NSLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, Labels: map[string]string{"app": "prometheus"}}
	clusterDNS = peer{Name: "kube-dns", Namespace: "kube-system", NSLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}, Labels: map[string]string{"k8s-app": "kube-dns"},
		Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53}}}
	database = peer{Name: "postgres (managed)", Ports: []corev1.ContainerPort{{ContainerPort: 5432}}}
)

// netpol evaluates NetworkPolicies as the API defines them: a pod selected by no policy of a
// direction is open in that direction; otherwise some rule of a policy selecting it must allow
// the peer and port. Both the sender's egress and the receiver's ingress must allow a flow.
type netpol []*networkingv1.NetworkPolicy

func (n netpol) allows(from, to peer, port int32, proto corev1.Protocol) bool {
	return n.direction(from, to, port, proto, networkingv1.PolicyTypeEgress) &&
		n.direction(to, from, port, proto, networkingv1.PolicyTypeIngress)
}

// direction: may subject (the pod the policies select) talk to other on port? For egress the
// port is the other's, for ingress the subject's.
func (n netpol) direction(subject, other peer, port int32, proto corev1.Protocol, dir networkingv1.PolicyType) bool {
	if subject.Namespace == "" || subject.Namespace != "mercato" {
		return true // outside the namespace under test: no policies of ours apply
	}
	selected := false
	for _, p := range n {
		if p.Namespace != subject.Namespace || !slices.Contains(p.Spec.PolicyTypes, dir) || !matches(&p.Spec.PodSelector, subject.Labels) {
			continue
		}
		selected = true
		dst := subject
		if dir == networkingv1.PolicyTypeEgress {
			dst = other
		}
		if dir == networkingv1.PolicyTypeIngress {
			for _, r := range p.Spec.Ingress {
				if peersMatch(r.From, p.Namespace, other) && portsMatch(r.Ports, dst, port, proto) {
					return true
				}
			}
		} else {
			for _, r := range p.Spec.Egress {
				if peersMatch(r.To, p.Namespace, other) && portsMatch(r.Ports, dst, port, proto) {
					return true
				}
			}
		}
	}
	return !selected
}

func matches(sel *metav1.LabelSelector, set map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(set))
}

func peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, p peer) bool {
	if len(peers) == 0 {
		return true
	}
	for _, np := range peers {
		switch {
		case np.IPBlock != nil:
			if p.Namespace == "" {
				return true
			}
		case np.NamespaceSelector != nil:
			if p.Namespace != "" && matches(np.NamespaceSelector, p.NSLabels) &&
				(np.PodSelector == nil || matches(np.PodSelector, p.Labels)) {
				return true
			}
		case np.PodSelector != nil:
			if p.Namespace == policyNS && matches(np.PodSelector, p.Labels) {
				return true
			}
		}
	}
	return false
}

// portsMatch resolves named ports against the destination's container ports.
func portsMatch(ports []networkingv1.NetworkPolicyPort, dst peer, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto || p.Port == nil {
			if pp == proto && p.Port == nil {
				return true
			}
			continue
		}
		if p.Port.Type == intstr.Int && p.Port.IntVal == port {
			return true
		}
		if p.Port.Type == intstr.String {
			for _, cp := range dst.Ports {
				if cp.Name == p.Port.StrVal && cp.ContainerPort == port {
					return true
				}
			}
		}
	}
	return false
}

// The NetworkPolicies allow exactly the designed flows between Mercato's workloads, the public
// port from anywhere, metrics from the monitoring namespace, DNS, and PostgreSQL from the
// services — nothing else, on any declared port.
func TestNetworkPoliciesAllowTheDesignedFlowsOnly(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"base", "overlays/local"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			objs := build(t, dir)
			pols := netpol(objects[*networkingv1.NetworkPolicy](objs))
			if len(pols) == 0 {
				t.Fatal("no NetworkPolicies")
			}
			var pods []peer
			for _, w := range workloads(objs) {
				if w.Namespace == "mercato" {
					pods = append(pods, podPeer(w))
				}
			}
			want := slices.Clone(designedFlows)
			if dir == "overlays/local" {
				for _, s := range services {
					want = append(want, flow{s, "postgres", 5432})
				}
			}
			var got []flow
			for _, from := range append(pods, internet, monitoring) {
				for _, to := range pods {
					for _, p := range to.Ports {
						if pols.allows(from, to, p.ContainerPort, corev1.ProtocolTCP) {
							got = append(got, flow{from.Name, to.Name, p.ContainerPort})
						}
					}
				}
			}
			for _, to := range pods {
				for _, p := range to.Ports {
					f := flow{"monitoring", to.Name, p.ContainerPort}
					if p.Name == "admin" {
						want = append(want, f)
					}
				}
				if to.Name == "edge" { // public: from anywhere outside the namespace
					want = append(want, flow{"internet", "edge", 8443}, flow{"monitoring", "edge", 8443})
				}
			}
			for _, f := range got {
				if !slices.Contains(want, f) {
					t.Errorf("allowed but not designed: %s", f)
				}
			}
			for _, f := range want {
				if !slices.Contains(got, f) {
					t.Errorf("designed but denied: %s", f)
				}
			}
			for _, from := range pods {
				if !pols.allows(from, clusterDNS, 53, corev1.ProtocolUDP) {
					t.Errorf("%s cannot resolve names (DNS denied)", from.Name)
				}
				if got, want := pols.allows(from, database, 5432, corev1.ProtocolTCP), slices.Contains(services, from.Name); got != want {
					t.Errorf("%s → PostgreSQL outside the cluster: allowed %v, want %v", from.Name, got, want)
				}
				if pols.allows(from, internet, 443, corev1.ProtocolTCP) {
					t.Errorf("%s may reach the internet", from.Name)
				}
			}
			t.Logf("%d flows allowed among %d workloads, the internet and monitoring", len(got), len(pods))
		})
	}
}

// The evaluator itself: a policy change that opens a flow is seen.
func TestNetworkPolicyEvaluator(t *testing.T) {
	t.Parallel()
	a := peer{Name: "a", Namespace: "mercato", NSLabels: map[string]string{"kubernetes.io/metadata.name": "mercato"}, Labels: map[string]string{"app": "a"}}
	b := a
	b.Name, b.Labels, b.Ports = "b", map[string]string{"app": "b"}, []corev1.ContainerPort{{Name: "rpc", ContainerPort: 80}}
	deny := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "mercato"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress"}}}
	if !(netpol{}).allows(a, b, 80, corev1.ProtocolTCP) || (netpol{deny}).allows(a, b, 80, corev1.ProtocolTCP) {
		t.Fatal("no policy must allow, default deny must deny")
	}
	rpc := intstr.FromString("rpc")
	open := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "mercato"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "b"}},
			PolicyTypes: []networkingv1.PolicyType{"Ingress"},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &rpc}},
			}},
		}}
	egress := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "mercato"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
			PolicyTypes: []networkingv1.PolicyType{"Egress"},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr(intstr.FromInt32(80))}}}},
		}}
	for i, tc := range []struct {
		pols netpol
		port int32
		want bool
	}{
		{netpol{deny, open}, 80, false},        // egress of a still denied
		{netpol{deny, open, egress}, 80, true}, // both ends open
		{netpol{deny, open, egress}, 81, false},
	} {
		if got := tc.pols.allows(a, b, tc.port, corev1.ProtocolTCP); got != tc.want {
			t.Errorf("case %d: allows = %v, want %v", i, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
