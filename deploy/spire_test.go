package deploy_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl"
)

// k8sEntry matches `entry <SPIFFE ID> <service account>` in certs/spire/k8s/entries.sh.
var k8sEntry = regexp.MustCompile(`(?m)^entry (spiffe://\S+)\s+(\S+)\s*$`)

// wantIDs is the SPIFFE ID each workload of namespace mercato must get (ARCHITECTURE.md).
var wantIDs = map[string]string{
	"customers": "spiffe://mercato.local/svc/customers", "inventory": "spiffe://mercato.local/svc/inventory",
	"orders": "spiffe://mercato.local/svc/orders", "payments": "spiffe://mercato.local/svc/payments",
	"notifications": "spiffe://mercato.local/svc/notifications", "xds": "spiffe://mercato.local/xds",
	"edge": "spiffe://mercato.local/edge", "broker": "spiffe://mercato.local/broker",
}

// Every workload that mounts the Workload API runs under a service account that entries.sh
// registers with that workload's SPIFFE ID, in the namespace the entries select.
func TestSPIREEntriesMatchWorkloads(t *testing.T) {
	t.Parallel()
	script := readFile(t, "certs/spire/k8s/entries.sh")
	bySA := map[string]string{}
	for _, m := range k8sEntry.FindAllStringSubmatch(script, -1) {
		bySA[m[2]] = m[1]
	}
	if !strings.Contains(script, "NAMESPACE=${MERCATO_NAMESPACE:-mercato}") {
		t.Error("entries.sh does not select namespace mercato by default")
	}
	seen := 0
	for _, w := range workloads(build(t, "base")) {
		if w.Namespace != "mercato" {
			continue
		}
		want, ok := wantIDs[w.Name]
		if !ok {
			t.Errorf("%s: no SPIFFE ID designed for it", w)
			continue
		}
		seen++
		if got := bySA[w.Pod.Spec.ServiceAccountName]; got != want {
			t.Errorf("%s: service account %q is registered as %q, want %q", w, w.Pod.Spec.ServiceAccountName, got, want)
		}
	}
	if seen != len(wantIDs) {
		t.Errorf("%d of %d designed workloads deployed", seen, len(wantIDs))
	}
}

// SVID lifetimes are set in one place, the server's configuration: no entry overrides them,
// and compose and Kubernetes agree.
func TestSVIDLifetimesInOnePlace(t *testing.T) {
	t.Parallel()
	for _, script := range []string{"certs/spire/compose/entries.sh", "certs/spire/k8s/entries.sh"} {
		if s := readFile(t, script); strings.Contains(s, "SVIDTTL") || strings.Contains(s, "-ttl") {
			t.Errorf("%s sets an SVID lifetime; the server's default_x509_svid_ttl is the only one", script)
		}
	}
	var ttls []map[string]any
	for _, conf := range []string{"certs/spire/compose/server.conf", "certs/spire/k8s/server.conf"} {
		var c struct {
			Server map[string]any `hcl:"server"`
		}
		if err := hcl.Decode(&c, readFile(t, conf)); err != nil {
			t.Fatalf("%s: %v", conf, err)
		}
		for _, k := range []string{"default_x509_svid_ttl", "agent_ttl"} {
			if c.Server[k] == nil {
				t.Errorf("%s: %s unset", conf, k)
			}
		}
		ttls = append(ttls, c.Server)
	}
	for _, k := range []string{"default_x509_svid_ttl", "agent_ttl", "ca_ttl"} {
		if ttls[0][k] != ttls[1][k] {
			t.Errorf("%s: compose %v, Kubernetes %v", k, ttls[0][k], ttls[1][k])
		}
	}
}
