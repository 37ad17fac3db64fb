package e2e

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"

	"mercato.dev/ops/alerts"
)

// TestTelemetryMetrics: after an order and a request no route matches, the metrics added for
// operators are exported with the values those calls produce, and every metric the alert
// rules name is served by some process of the running platform.
func TestTelemetryMetrics(t *testing.T) {
	p := the(t)
	a := p.client(t, "connect")
	customerID, token := p.newCustomer(t, a, "metrics")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	placed, err := a.orders.CreateOrder(withToken(ctx, token), &ordersv1.CreateOrderRequest{
		CustomerId: customerID, IdempotencyKey: "metrics-" + uuid.NewString(), PaymentMethod: "pm_card_declined",
		Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: p.seedProduct.GetProductId(), Quantity: 1}},
	})
	if err != nil || placed.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_REJECTED {
		t.Fatalf("CreateOrder with a declined card: %v %v", placed, err)
	}
	res, err := p.httpClient(t).Post(p.base+"/no.such.v1.Service/Method", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unrouted path: %s, want 404", res.Status)
	}

	orders, edge, notifications := p.svc["orders"].AdminAddr, p.edge.AdminAddr, p.svc["notifications"].AdminAddr
	checks := []struct {
		addr, name string
		labels     map[string]string
		min        float64
	}{
		{orders, "saga_outcomes_total", map[string]string{"status": "rejected", "reason": "REJECT_REASON_PAYMENT_DECLINED"}, 1},
		{orders, "saga_pending_orders", nil, 0},
		{orders, "rpc_client_breaker_state", map[string]string{"dependency": "payments"}, 0},
		{orders, "svid_expires_in_seconds", nil, 1},
		{orders, "trust_bundle_expires_in_seconds", nil, 1},
		{orders, "mercato_build_info", map[string]string{"service": "orders"}, 1},
		{edge, "edge_response_flags_total", map[string]string{"flag": "NR"}, 1},
		{edge, "svid_expires_in_seconds", nil, 1},
		{notifications, "events_consumer_lag_seconds_count", map[string]string{"consumer": "notifications"}, 1},
		{notifications, "events_consumer_pending_messages", map[string]string{"consumer": "notifications"}, 0},
		{notifications, "events_redeliveries_total", map[string]string{"consumer": "notifications"}, 0},
	}
	for _, c := range checks {
		start := time.Now()
		for {
			fams := families(t, c.addr)
			base := strings.TrimSuffix(c.name, "_count")
			if fams[base] && metric(t, c.addr, c.name, c.labels) >= c.min {
				break
			}
			if time.Since(start) > 10*time.Second { // the consumer records after the relay publishes
				t.Errorf("%s%v at %s: want ≥ %v within %s, got %v (exported: %v)", c.name, c.labels, c.addr, c.min,
					time.Since(start).Round(time.Millisecond), metric(t, c.addr, c.name, c.labels), fams[base])
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	rules, err := alerts.Load("../compose/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, pr := range append([]*proc{p.edge, p.xds}, p.svc["customers"], p.svc["inventory"], p.svc["orders"], p.svc["payments"], p.svc["notifications"]) {
		for name := range families(t, pr.AdminAddr) {
			served[name] = true
		}
	}
	for _, name := range rules.Metrics() {
		if !served[name] {
			t.Errorf("alerts.yaml names %s, which no running process serves", name)
		}
	}
}

// families lists the metric families a process serves (its # TYPE lines).
func families(t *testing.T, adminAddr string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	body := getBody(t, "http://"+adminAddr+"/metrics")
	for sc := bufio.NewScanner(bytes.NewReader(body)); sc.Scan(); {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	return out
}
