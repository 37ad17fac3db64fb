package devedge_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"mercato.dev/edge/internal/devedge"
	"mercato.dev/services/kit/identity"
)

// TestNewVersionsApplyWithoutRestartAndBadOnesAreNACKed drives the edge through versions: a
// changed timeout and a new route take effect on the running listener; a route configuration
// the edge cannot apply and a cluster Envoy's rules reject are NACKed, the previous version
// serving on; a good version afterwards applies again.
func TestNewVersionsApplyWithoutRestartAndBadOnesAreNACKed(t *testing.T) {
	t.Parallel()
	f := &fakeInventory{name: "inv", delay: 300 * time.Millisecond}
	h := newHarness(t)
	addr := h.serve("inventory", f.register)
	v1 := h.baseConfig(addr)
	h.start(v1)
	listenerAddr := h.edge.ListenerAddr("public")
	client := h.client(true)
	adjust := func() int {
		res, _, _ := postJSON(t, client, h.base()+inventory+"AdjustStock", `{"productId":"`+productID+`","delta":1,"reason":"x"}`)
		return res.StatusCode
	}
	create := func() int {
		res, _, _ := postJSON(t, client, h.base()+inventory+"CreateProduct", `{"sku":"A-1","name":"a","price":{"amountMinor":"100","currency":"EUR"}}`)
		return res.StatusCode
	}
	if got, gotNew := adjust(), create(); got != 200 || gotNew != 404 {
		t.Fatalf("v1: AdjustStock %d (want 200), CreateProduct %d (want 404: no route)", got, gotNew)
	}

	v2 := v1
	v2.routes = append([]testRoute(nil), v1.routes...)
	v2.routes[3].timeout = 100 * time.Millisecond
	v2.routes = append(v2.routes, testRoute{path: inventory + "CreateProduct", cluster: "inventory", timeout: 2 * time.Second})
	h.apply(v2)
	if got, gotNew := adjust(), create(); got != 504 || gotNew != 200 {
		t.Fatalf("v2: AdjustStock %d (want 504: timeout now 100ms), CreateProduct %d (want 200)", got, gotNew)
	}
	if a := h.edge.ListenerAddr("public"); a != listenerAddr {
		t.Errorf("listener moved from %s to %s", listenerAddr, a)
	}

	// v3: the timeout back to 2s, but in a route configuration with a retry_on the edge does not
	// know: RDS is NACKed and the 100ms timeout stays.
	v3 := v2
	v3.routes = append([]testRoute(nil), v2.routes...)
	v3.routes[3].timeout = 2 * time.Second
	v3.routes[0].retry = idempotentRetry(2)
	v3.routes[0].retry.RetryOn = "unavailable,teleport-failure"
	version := h.push(v3)
	h.waitFor("NACK of RDS "+version, func() bool { return h.nacks[resourcev3.RouteType] != "" })
	if msg := h.nacks[resourcev3.RouteType]; !strings.Contains(msg, `retry_on "teleport-failure"`) {
		t.Errorf("NACK reason %q", msg)
	}
	if got := adjust(); got != 504 {
		t.Errorf("after the NACK: AdjustStock %d, want 504 (v2 still in force)", got)
	}

	// v4: a cluster that breaks Envoy's own rules (connect_timeout must be > 0).
	l, r, c, e := v2.resources()
	c[0].(*clusterv3.Cluster).ConnectTimeout = durationpb.New(0)
	version = h.pushResources(l, r, c, e)
	h.waitFor("NACK of CDS "+version, func() bool { return h.nacks[resourcev3.ClusterType] != "" })
	if msg := h.nacks[resourcev3.ClusterType]; !strings.Contains(msg, "ConnectTimeout") {
		t.Errorf("NACK reason %q", msg)
	}
	if got := create(); got != 200 {
		t.Errorf("after the CDS NACK: %d, want 200 (the cluster of v2 serving)", got)
	}

	h.apply(v1)
	if got, gotNew := adjust(), create(); got != 200 || gotNew != 404 {
		t.Errorf("back to v1: AdjustStock %d, CreateProduct %d", got, gotNew)
	}
	if m := h.metrics(); !strings.Contains(m, `edge_xds_updates_total{result="nack",type="type.googleapis.com/envoy.config.route.v3.RouteConfiguration"}`) {
		t.Errorf("metrics do not count the RDS NACK")
	}
	// go-control-plane answers a NACK by resending the rejected version: the edge paces its
	// repeated NACKs instead of looping.
	if n := strings.Count(h.logs.String(), `"msg":"xDS update rejected (NACK)"`); n > 4 {
		t.Errorf("%d NACKs logged: the edge should NACK each rejected version once", n)
	}
}

// TestWarmingAndListenerChecks drives the edge's Watcher side directly: a listener whose route
// configuration has not arrived is not started (Envoy's warming) and the edge is not ready; a
// listener whose certificate file is missing is NACKed.
func TestWarmingAndListenerChecks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e, err := devedge.New(devedge.Options{Source: h.env.Source(t, identity.Edge), AdminAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.baseConfig(deadAddr(t))
	cfg.certFile, cfg.keyFile = h.files.Cert, h.files.Key
	update := func(typeURL string, msgs ...proto.Message) error {
		var anys []*anypb.Any
		for _, m := range msgs {
			anys = append(anys, typed(m))
		}
		return e.Update(typeURL, "1", anys)
	}
	if err := update(resourcev3.ListenerType, cfg.listener()); err != nil {
		t.Fatal(err)
	}
	if got := e.Names(resourcev3.RouteType); len(got) != 1 || got[0] != "public" {
		t.Errorf("RDS names %v, want [public]", got)
	}
	if err := e.Ready(); err == nil || e.ListenerAddr("public") != "" {
		t.Errorf("listener without routes: ready=%v addr=%q, want warming", err, e.ListenerAddr("public"))
	}
	if err := update(resourcev3.RouteType, cfg.routeConfiguration()); err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(); err != nil || e.ListenerAddr("public") == "" {
		t.Errorf("after RDS: ready=%v addr=%q", err, e.ListenerAddr("public"))
	}
	broken := cfg
	broken.certFile = filepath.Join(t.TempDir(), "missing.pem")
	if err := update(resourcev3.ListenerType, broken.listener()); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing certificate: %v, want a NACK naming the file", err)
	}
	if err := e.Ready(); err != nil {
		t.Errorf("after the NACK the previous listener must keep serving: %v", err)
	}
	if err := update(resourcev3.ListenerType, broken.listener(), cfg.listener()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate listener names: %v", err)
	}
}

func (h *harness) metrics() string {
	h.t.Helper()
	res, err := http.Get("http://" + h.edge.AdminAddr() + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
