package deploy_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Every manifest file decodes strictly into its k8s.io/api type.
func TestManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, file := range manifestFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitYAML(data) {
			if _, err := decode(doc); err != nil {
				t.Errorf("%s, document %d: %v", file, i+1, err)
			}
		}
	}
}

// The strict decoder is strict: a typo'd field, a duplicated field and an unknown kind fail.
func TestStrictDecodingRejects(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"unknown field":    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {a: b}}\n",
		"duplicated field": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP, type: NodePort}\n",
		"unknown kind":     "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n",
		"wrong type":       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n",
	} {
		if _, err := decode([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// Both kustomizations build, and what they build decodes strictly.
func TestKustomizationsBuild(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"base", "overlays/local"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			objs := build(t, dir)
			var names []string
			for _, w := range workloads(objs) {
				names = append(names, w.Namespace+"/"+w.Name)
			}
			for _, want := range []string{
				"spire/spire-server", "spire/spire-agent", "spire/spiffe-csi-driver", "mercato/xds",
				"mercato/edge", "mercato/broker", "mercato/customers", "mercato/inventory",
				"mercato/orders", "mercato/payments", "mercato/notifications",
			} {
				if !slices.Contains(names, want) {
					t.Errorf("no workload %s; built %q", want, names)
				}
			}
		})
	}
}

// Every workload runs hardened and probed, and Mercato's pods take their identity from the
// SPIFFE CSI driver, never from a hostPath.
func TestWorkloadsAreHardened(t *testing.T) {
	t.Parallel()
	for _, w := range workloads(build(t, "base")) {
		pod := w.Pod.Spec
		for _, c := range pod.Containers {
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s, container %s: root filesystem not read-only", w, c.Name)
			}
			privileged := sc != nil && sc.Privileged != nil && *sc.Privileged
			if w.Name == "spiffe-csi-driver" && c.Name == "spiffe-csi-driver" && privileged {
				continue // mounts into pod volumes: needs it (namespace spire, privileged level)
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s, container %s: privilege escalation not disabled", w, c.Name)
			}
			if c.LivenessProbe == nil || (c.ReadinessProbe == nil && w.Name != "spiffe-csi-driver") {
				t.Errorf("%s, container %s: liveness or readiness probe missing", w, c.Name)
			}
		}
		if w.Namespace != "mercato" {
			continue
		}
		if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot not set", w)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token it does not need", w)
		}
		if pod.HostNetwork || pod.HostPID {
			t.Errorf("%s: uses the host's network or pids", w)
		}
		csi := false
		for _, v := range pod.Volumes {
			if v.HostPath != nil {
				t.Errorf("%s: hostPath volume %s", w, v.Name)
			}
			if v.CSI != nil && v.CSI.Driver == "csi.spiffe.io" {
				csi = true
			}
		}
		if !csi {
			t.Errorf("%s: no csi.spiffe.io volume (its SVID)", w)
		}
		for _, c := range pod.Containers {
			for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
				if p != nil && p.HTTPGet != nil && p.HTTPGet.Port.String() != "admin" {
					t.Errorf("%s: HTTP probe on port %s, want the admin port", w, p.HTTPGet.Port.String())
				}
			}
		}
	}
}

// Every Mercato workload with more than one replica has a PodDisruptionBudget that selects it,
// and so does the single broker.
func TestDisruptionBudgets(t *testing.T) {
	t.Parallel()
	objs := build(t, "base")
	pdbs := objects[*policyv1.PodDisruptionBudget](objs)
	for _, w := range workloads(objs) {
		if w.Namespace != "mercato" || (w.Replicas < 2 && w.Name != "broker") {
			continue
		}
		n := 0
		for _, pdb := range pdbs {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			if pdb.Namespace == w.Namespace && sel.Matches(labels.Set(w.Pod.Labels)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d PodDisruptionBudgets select it, want 1", w, n)
		}
	}
}

// The local overlay's agent.conf is certs/spire/k8s/agent.conf plus one line.
func TestLocalAgentConfDiffersByOneSetting(t *testing.T) {
	t.Parallel()
	base := strings.Split(readFile(t, "certs/spire/k8s/agent.conf"), "\n")
	local := strings.Split(readFile(t, "deploy/k8s/overlays/local/agent.conf"), "\n")
	var extra []string
	for _, l := range local {
		if i := slices.Index(base, l); i >= 0 {
			base = slices.Delete(base, i, i+1)
		} else {
			extra = append(extra, strings.TrimSpace(l))
		}
	}
	if len(base) != 0 || !slices.Equal(extra, []string{"skip_kubelet_verification = true"}) {
		t.Errorf("overlays/local/agent.conf: lines missing %q, lines added %q; want only skip_kubelet_verification = true added",
			base, extra)
	}
}
