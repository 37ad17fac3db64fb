package e2e

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/kit/identity"
)

// TestBreakerThresholdsInTheEdge: every cluster the edge received has routes.yaml's circuit
// breaker thresholds and outlier detection (overflow behaviour itself is covered by the edge's
// and the control plane's unit tests), and a live endpoint.
func TestBreakerThresholdsInTheEdge(t *testing.T) {
	p := the(t)
	var dump struct {
		Clusters map[string]struct {
			Name            string `json:"name"`
			CircuitBreakers struct {
				Thresholds []map[string]any `json:"thresholds"`
			} `json:"circuitBreakers"`
			OutlierDetection map[string]any `json:"outlierDetection"`
			EDSClusterConfig struct {
				ServiceName string `json:"serviceName"`
			} `json:"edsClusterConfig"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal(getBody(t, "http://"+p.edge.AdminAddr+"/config_dump"), &dump); err != nil {
		t.Fatalf("edge /config_dump: %v", err)
	}
	live := p.clusters(t)
	var names []string
	for name := range p.routes.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c, ok := dump.Clusters[name]
		if !ok {
			t.Errorf("cluster %s is not in the edge's configuration", name)
			continue
		}
		if len(c.CircuitBreakers.Thresholds) == 0 {
			t.Errorf("cluster %s has no circuit breaker thresholds", name)
			continue
		}
		got := c.CircuitBreakers.Thresholds[0]
		want := p.routes.breaker(name)
		if len(want) != 4 {
			t.Errorf("routes.yaml gives cluster %s breaker thresholds %v, want all four", name, want)
		}
		for k, v := range want {
			if n, ok := got[k].(float64); !ok || uint32(n) != v {
				t.Errorf("cluster %s: circuitBreakers.thresholds[0].%s = %v, routes.yaml says %d", name, k, got[k], v)
			}
		}
		if pr, ok := got["priority"]; ok && pr != "DEFAULT" {
			t.Errorf("cluster %s: thresholds[0] is for priority %v", name, pr)
		}
		if want, ok := p.routes.consecutive5xx(name); ok {
			if n, _ := c.OutlierDetection["consecutive5xx"].(float64); uint32(n) != want {
				t.Errorf("cluster %s: outlierDetection.consecutive5xx = %v, routes.yaml says %d", name, c.OutlierDetection["consecutive5xx"], want)
			}
		}
		if c.EDSClusterConfig.ServiceName != name {
			t.Errorf("cluster %s: EDS service name %q", name, c.EDSClusterConfig.ServiceName)
		}
		if live[name][p.svc[name].Addr] != "healthy" {
			t.Errorf("cluster %s: /clusters %v lacks the service's endpoint %s", name, live[name], p.svc[name].Addr)
		}
		t.Logf("cluster %-13s thresholds %v, outlier %v, endpoints %v", name, got, c.OutlierDetection, live[name])
	}
}

// TestEdgeOverhead measures GetProduct (Connect, binary) through the edge and directly over
// mTLS to inventory, sequentially, and reports both (BenchmarkThroughEdge/BenchmarkDirect are
// the same with testing.B).
func TestEdgeOverhead(t *testing.T) {
	p := the(t)
	const n = 300
	through, direct := p.client(t, "connect"), p.direct(t)
	req := &inventoryv1.GetProductRequest{ProductId: p.seedProduct.GetProductId()}
	measure := func(a *api) (time.Duration, time.Duration, time.Duration) {
		ds := make([]time.Duration, 0, n)
		for i := 0; i < n+20; i++ {
			start := time.Now()
			if _, err := a.inventory.GetProduct(context.Background(), req); err != nil {
				t.Fatalf("GetProduct: %v", err)
			}
			if i >= 20 { // warm-up: connections, JIT-free but caches
				ds = append(ds, time.Since(start))
			}
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return sum / n, ds[n/2], ds[n*99/100]
	}
	em, e50, e99 := measure(through)
	dm, d50, d99 := measure(direct)
	t.Logf("GetProduct, Connect binary, %d sequential calls:\n  through the edge: mean %s  p50 %s  p99 %s\n  direct mTLS:      mean %s  p50 %s  p99 %s\n  edge overhead:    mean %s  p50 %s",
		n, em.Round(time.Microsecond), e50.Round(time.Microsecond), e99.Round(time.Microsecond),
		dm.Round(time.Microsecond), d50.Round(time.Microsecond), d99.Round(time.Microsecond),
		(em - dm).Round(time.Microsecond), (e50 - d50).Round(time.Microsecond))
	if e50 < d50 {
		t.Logf("note: the edge path measured faster than the direct one (noise on a shared machine)")
	}
}

// direct is a Connect client to inventory over mTLS as svc/orders (allowed GetProduct).
func (p *platform) direct(tb testing.TB) *api {
	hc := p.env.HTTPClient(tb, asOrders, identity.Service("inventory"))
	return newAPI(tb, hc, "https://"+p.svc["inventory"].Addr, "connect")
}

func benchmarkGetProduct(b *testing.B, a *api, p *platform) {
	req := &inventoryv1.GetProductRequest{ProductId: p.seedProduct.GetProductId()}
	ctx := context.Background()
	if _, err := a.inventory.GetProduct(ctx, req); err != nil {
		b.Fatalf("GetProduct: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.inventory.GetProduct(ctx, req); err != nil {
			b.Fatalf("GetProduct: %v", err)
		}
	}
}

// BenchmarkThroughEdge is GetProduct (Connect, binary protobuf) from a public client through
// the dev edge (TLS with the dev certificate, routing, upstream mTLS) to inventory.
func BenchmarkThroughEdge(b *testing.B) {
	p := the(b)
	benchmarkGetProduct(b, p.client(b, "connect"), p)
}

// BenchmarkDirect is the same call made directly to inventory over mTLS.
func BenchmarkDirect(b *testing.B) {
	p := the(b)
	benchmarkGetProduct(b, p.direct(b), p)
}
