package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
)

const listProducts = inventoryv1connect.InventoryServiceListProductsProcedure

// A service stopped with SIGTERM first turns unready and deregisters from the control plane,
// keeps serving for DEREGISTER_GRACE while the edge drops its endpoint, and only then closes its
// listener and drains (kit/service). So a graceful stop loses no call at all, retried or not;
// a crash (SIGKILL) can cut calls in flight, which no proxy can retry for a non-idempotent one.

// okCount is how many ListProducts an inventory instance answered successfully.
func okCount(t *testing.T, pr *proc) float64 {
	t.Helper()
	return metric(t, pr.AdminAddr, "rpc_server_duration_seconds_count", map[string]string{"procedure": listProducts, "code": "ok"})
}

// load calls fn from a few workers until stopped, recording each outcome and when it ended.
type load struct {
	mu       sync.Mutex
	ok       int
	failures []outcome
	stop     chan struct{}
	wg       sync.WaitGroup
}

type outcome struct {
	start, end time.Time
	err        error
}

func startLoad(workers int, fn func(ctx context.Context) error) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := fn(ctx)
				cancel()
				l.mu.Lock()
				if err != nil {
					l.failures = append(l.failures, outcome{start, time.Now(), err})
				} else {
					l.ok++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) Stop() (ok int, failures []outcome) {
	close(l.stop)
	l.wg.Wait()
	return l.ok, l.failures
}

// TestEndpointChurn: a second inventory instance (same database) registers with the control
// plane and the edge balances ListProducts over both; when it leaves — SIGTERM (it deregisters)
// or SIGKILL (its registration expires after the TTL) — the edge drops it from EDS and every
// later request goes to the survivor without a failure. Failures while it leaves are printed;
// after a SIGTERM they must be none, reads and writes alike.
func TestEndpointChurn(t *testing.T) {
	p := the(t)
	survivor := p.svc["inventory"]
	a := p.client(t, "connect")
	retries := func() float64 {
		return metric(t, p.edge.AdminAddr, "edge_upstream_retries_total", map[string]string{"cluster": "inventory"})
	}

	for _, how := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGTERM", syscall.SIGTERM}, {"SIGKILL", syscall.SIGKILL}} {
		t.Run(how.name, func(t *testing.T) {
			second := p.startService(t, "inventory", map[string]string{"INVENTORY_DATABASE_URL": p.inventoryDB})
			joined := p.waitClusters(t, 10*time.Second, func(c map[string]map[string]string) string {
				if c["inventory"][second.Addr] != "healthy" || c["inventory"][survivor.Addr] != "healthy" {
					return fmt.Sprintf("inventory endpoints %v, want %s and %s healthy", c["inventory"], survivor.Addr, second.Addr)
				}
				return ""
			})
			t.Logf("second instance %s in the edge's EDS %s after it was ready", second.Addr, joined.Round(time.Millisecond))

			// ~100 requests, 4 at a time: both instances serve some.
			s0, n0 := okCount(t, survivor), okCount(t, second)
			const total = 100
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failed []error
			start := time.Now()
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < total; i += 4 {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err := a.inventory.ListProducts(ctx, &inventoryv1.ListProductsRequest{PageSize: 5})
						cancel()
						if err != nil {
							mu.Lock()
							failed = append(failed, err)
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			ds, dn := okCount(t, survivor)-s0, okCount(t, second)-n0
			t.Logf("%d ListProducts through the edge in %s (%.0f/s): first instance %v, second %v, failed %d",
				total, elapsed.Round(time.Millisecond), total/elapsed.Seconds(), ds, dn, len(failed))
			if len(failed) > 0 || ds+dn != total || ds == 0 || dn == 0 {
				t.Errorf("want %d answered by both instances with no failure; got %v + %v, failures %v", total, ds, dn, failed)
			}

			// The second instance leaves while traffic flows: reads (retried by the edge) from two
			// workers, and one worker adjusting stock (not idempotent: never retried).
			admin := withToken(context.Background(), p.adminToken)
			prod, err := a.inventory.CreateProduct(admin, &inventoryv1.CreateProductRequest{
				Sku: "E2E-CHURN-" + how.name, Name: "churn", Price: &moneyv1.Money{AmountMinor: 1, Currency: "EUR"}, InitialStock: 0})
			if err != nil {
				t.Fatalf("CreateProduct: %v", err)
			}
			r0 := retries()
			reads := startLoad(2, func(ctx context.Context) error {
				_, err := a.inventory.ListProducts(ctx, &inventoryv1.ListProductsRequest{PageSize: 5})
				return err
			})
			writes := startLoad(1, func(ctx context.Context) error {
				_, err := a.inventory.AdjustStock(withToken(ctx, p.adminToken), &inventoryv1.AdjustStockRequest{ProductId: prod.GetProduct().GetProductId(), Delta: 1, Reason: "churn"})
				return err
			})
			time.Sleep(300 * time.Millisecond)
			xdsLog := func(what string) int {
				return strings.Count(p.xds.Logs(), `"msg":"endpoint `+what+`","service":"xds","cluster":"inventory"`)
			}
			deregistered, expired := xdsLog("deregistered"), xdsLog("expired")
			exitedAt := make(chan time.Time, 1)
			signaled := time.Now()
			second.Signal(how.sig)
			go func() {
				second.Wait(30 * time.Second)
				exitedAt <- time.Now()
			}()
			left := p.waitClusters(t, 4*endpointTTL+5*time.Second, func(c map[string]map[string]string) string {
				if _, ok := c["inventory"][second.Addr]; ok {
					return fmt.Sprintf("inventory endpoints %v still hold %s", c["inventory"], second.Addr)
				}
				if c["inventory"][survivor.Addr] != "healthy" {
					return fmt.Sprintf("inventory endpoints %v lack the survivor %s", c["inventory"], survivor.Addr)
				}
				return ""
			})
			removedAt := time.Now()
			var exited time.Duration
			select {
			case at := <-exitedAt:
				exited = at.Sub(signaled)
			case <-time.After(10 * time.Second):
				t.Fatalf("the second instance did not exit 10s after %s", how.name)
			}
			time.Sleep(300 * time.Millisecond)
			ok, failures := reads.Stop()
			wok, wfailures := writes.Stop()
			var after int
			for _, f := range append(failures, wfailures...) {
				if f.start.After(removedAt) {
					after++
				}
			}
			t.Logf("%s: the endpoint left the edge's EDS %s after the signal (process exited after %s); during the transition: ListProducts %d ok, %d failed; AdjustStock %d ok, %d failed; failures after the removal: %d; edge retries on inventory: %v",
				how.name, left.Round(time.Millisecond), exited.Round(time.Millisecond), ok, len(failures), wok, len(wfailures), after, retries()-r0)
			for i, f := range append(failures, wfailures...) {
				if i == 5 {
					t.Logf("  … %d more", len(failures)+len(wfailures)-5)
					break
				}
				t.Logf("  failure sent %s after the signal, answered %s after it: %v", f.start.Sub(signaled).Round(time.Millisecond), f.end.Sub(signaled).Round(time.Millisecond), f.err)
			}
			if after > 0 {
				t.Errorf("%d requests sent after the instance had left the edge's EDS failed", after)
			}
			switch {
			case len(failures) == 0:
			case how.sig == syscall.SIGKILL:
				// A crash can cut a response whose headers the edge already forwarded: no proxy
				// retries that (Envoy resets the downstream stream too).
				t.Logf("OBSERVED: %d ListProducts failed while the instance crashed", len(failures))
			default:
				t.Errorf("%d ListProducts failed while an instance left gracefully", len(failures))
			}
			switch {
			case len(wfailures) == 0:
			case how.sig == syscall.SIGKILL:
				// A call the edge may not retry fails when the instance dies under it.
				t.Logf("OBSERVED: %d of %d AdjustStock calls (not retried by the edge) failed while the instance crashed", len(wfailures), wok+len(wfailures))
			default:
				t.Errorf("%d of %d AdjustStock calls failed while an instance left gracefully: it closed its listener before the edge dropped it", len(wfailures), wok+len(wfailures))
			}
			// Every answered adjustment was applied once; a failed one at most once.
			got, err := a.inventory.GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: prod.GetProduct().GetProductId()})
			if av := got.GetProduct().GetAvailable(); err != nil || av < int64(wok) || av > int64(wok+len(wfailures)) {
				t.Errorf("stock after %d answered (+%d failed) adjustments of +1: %d %v", wok, len(wfailures), av, err)
			}
			// SIGTERM: the instance deregisters; SIGKILL: the control plane expires it (TTL).
			switch d, e := xdsLog("deregistered")-deregistered, xdsLog("expired")-expired; {
			case how.sig == syscall.SIGTERM && (d != 1 || e != 0 || !strings.Contains(second.Logs(), "deregistered")):
				t.Errorf("SIGTERM: the control plane logged %d deregistrations and %d expiries, want 1 and 0; instance log:\n%s", d, e, tail(second.Logs(), 2000))
			case how.sig == syscall.SIGKILL && (d != 0 || e != 1):
				t.Errorf("SIGKILL: the control plane logged %d deregistrations and %d expiries, want 0 and 1", d, e)
			case how.sig == syscall.SIGKILL && left < endpointTTL/2:
				t.Errorf("SIGKILL: the endpoint left after %s, before its TTL (%s) could have run out", left, endpointTTL)
			}

			// Afterwards the survivor answers everything.
			s1 := okCount(t, survivor)
			const afterwards = 50
			for range afterwards {
				if _, err := a.inventory.ListProducts(context.Background(), &inventoryv1.ListProductsRequest{PageSize: 5}); err != nil {
					t.Errorf("ListProducts after the removal: %v", err)
				}
			}
			if got := okCount(t, survivor) - s1; got != afterwards {
				t.Errorf("the survivor answered %v of %d requests after the removal", got, afterwards)
			}
		})
	}
	xdsEndpoints := metric(t, p.xds.AdminAddr, "xds_endpoints", map[string]string{"cluster": "inventory"})
	if xdsEndpoints != 1 {
		t.Errorf("the control plane counts %v inventory endpoints after the churn, want 1", xdsEndpoints)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
