package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/kittest"

	"mercato.dev/ops/tracing"
)

// TestOneOrderIsOneTrace: one CreateOrder through the edge is one trace, whose spans every
// process sends to the test's OTLP receiver — the edge, orders, customers, inventory,
// payments, orders' outbox relay and notifications' consumer — each with the right parent:
// edge → orders handler → saga steps → client calls → the services' handlers; the step that
// wrote the event → the relay's publish → the consumer's handling. Then `mercato trace
// <order-id>` renders that trace from a Jaeger query API the test serves.
func TestOneOrderIsOneTrace(t *testing.T) {
	p := the(t)
	a := p.client(t, "connect")
	customerID, token := p.newCustomer(t, a, "traced")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	placed, err := a.orders.CreateOrder(withToken(ctx, token), &ordersv1.CreateOrderRequest{
		CustomerId: customerID, IdempotencyKey: "trace-" + uuid.NewString(), PaymentMethod: "pm_card_visa",
		Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: p.seedProduct.GetProductId(), Quantity: 1}},
	})
	if err != nil || placed.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
		t.Fatalf("CreateOrder: %v %v", placed, err)
	}
	orderID := placed.GetOrder().GetOrderId()

	// Spans arrive in batches (1 s batch timeout) after the work is done; the notification
	// follows the relay. Wait for the last expected one, much longer than it should take.
	start := time.Now()
	var spans []tracing.Span
	for {
		spans = p.collector.trace(tracing.OrderIDKey, orderID)
		if find(spans, "notifications", "consumer", "") != nil && find(spans, "edge", "server", "") != nil && find(spans, "payments", "producer", "") != nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after %s, the trace of order %s has %d spans and lacks the edge's, payments' publish or notifications' consumer span:\n%s",
				time.Since(start).Round(time.Millisecond), orderID, len(spans), waterfall(spans))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // one more batch: late spans of the same trace
	spans = p.collector.trace(tracing.OrderIDKey, orderID)
	t.Logf("order %s: %d spans within %s; received per protocol %v\n%s", orderID, len(spans),
		time.Since(start).Round(time.Millisecond), p.collector.protocols(), waterfall(spans))
	checkOrderTrace(t, spans)
	checkTraceCLI(t, p, spans, orderID)
}

// checkOrderTrace asserts the trace's shape: one root (the edge), no orphan, and the parent of
// every hop that matters.
func checkOrderTrace(t *testing.T, spans []tracing.Span) {
	t.Helper()
	byID := map[string]tracing.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	var roots []string
	for _, s := range spans {
		switch _, ok := byID[s.ParentID]; {
		case s.ParentID == "":
			roots = append(roots, s.Service+"/"+s.Name)
		case !ok:
			t.Errorf("span %s/%s: parent %s is not in the trace", s.Service, s.Name, s.ParentID)
		}
	}
	edge := find(spans, "edge", "server", "/mercato.orders.v1.OrderService/CreateOrder")
	if len(roots) != 1 || edge == nil || edge.ParentID != "" {
		t.Fatalf("roots %v, want exactly the edge's CreateOrder server span", roots)
	}
	parent := func(s *tracing.Span) *tracing.Span {
		if q, ok := byID[s.ParentID]; ok {
			return &q
		}
		return nil
	}
	// want: child (service, kind, name) → parent (service, kind, name prefix).
	type hop struct{ service, kind, name, pService, pKind, pName string }
	hops := []hop{
		{"orders", "server", "mercato.orders.v1.OrderService/CreateOrder", "edge", "server", "/mercato.orders.v1.OrderService/CreateOrder"},
		// The order is created customer-checked (the token proved the customer): reserving,
		// which prices it, is the first step.
		{"orders", "internal", "saga customer_checked", "orders", "server", "mercato.orders.v1.OrderService/CreateOrder"},
		{"inventory", "server", "mercato.inventory.v1.InventoryService/ReserveStock", "orders", "client", "mercato.inventory.v1.InventoryService/ReserveStock"},
		{"orders", "client", "mercato.inventory.v1.InventoryService/ReserveStock", "orders", "internal", "saga customer_checked"},
		{"payments", "server", "mercato.payments.v1.PaymentService/AuthorizePayment", "orders", "client", "mercato.payments.v1.PaymentService/AuthorizePayment"},
		{"orders", "client", "mercato.payments.v1.PaymentService/AuthorizePayment", "orders", "internal", "saga stock_reserved"},
		{"orders", "producer", "publish mercato.orders.v1.", "orders", "", ""},
		{"notifications", "consumer", "consume mercato.orders.v1.", "orders", "producer", "publish mercato.orders.v1."},
		{"payments", "producer", "publish mercato.payments.v1.", "payments", "", ""},
	}
	for _, name := range []string{"mercato.customers.v1.CustomerService/GetCustomer", "mercato.inventory.v1.InventoryService/GetProduct"} {
		if s := find(spans, "orders", "client", name); s != nil {
			t.Errorf("the saga called %s: the token proves the customer and the reservation prices the order", name)
		}
	}
	for _, h := range hops {
		s := find(spans, h.service, h.kind, h.name)
		if s == nil {
			t.Errorf("no %s %s span %q", h.service, h.kind, h.name)
			continue
		}
		q := parent(s)
		if q == nil || q.Service != h.pService || (h.pKind != "" && q.Kind != h.pKind) || !strings.HasPrefix(q.Name, h.pName) {
			t.Errorf("%s %s %q: parent %+v, want %s %s %q", h.service, h.kind, s.Name, describeSpan(q), h.pService, h.pKind, h.pName)
		}
	}
	// Database transactions and statements of the services are in the trace, without values.
	for _, svc := range []string{"orders", "inventory", "payments"} {
		if find(spans, svc, "client", "db.transaction") == nil {
			t.Errorf("no database transaction span from %s", svc)
		}
	}
	if s := find(spans, "notifications", "client", "INSERT notifications"); s == nil || !strings.HasPrefix(describeSpan(parent(s)), "notifications consumer consume ") {
		t.Errorf("notifications' INSERT: %s, want a child of its consumer span", describeSpan(s))
	}
	for _, s := range spans {
		if v, ok := s.Attributes["db.query.text"]; ok {
			t.Errorf("%s/%s carries the query text %q", s.Service, s.Name, v)
		}
		if s.Attributes["resource.spiffe.id"] == "" || s.Attributes["resource.service.version"] == "" {
			t.Errorf("%s/%s: resource lacks spiffe.id or service.version: %v", s.Service, s.Name, s.Attributes)
			break
		}
	}
}

// checkTraceCLI runs `mercato trace <order-id>` against a Jaeger query API serving the
// received spans, and checks the waterfall names every service in one tree.
func checkTraceCLI(t *testing.T, p *platform, spans []tracing.Span, orderID string) {
	t.Helper()
	api := httptest.NewServer(jaegerAPI(t, spans))
	defer api.Close()
	bin := kittest.Build(t, "mercato.dev/ops/cmd/mercato")
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(bin)) })
	out, err := exec.Command(bin, "trace", "-jaeger", api.URL, orderID).CombinedOutput()
	if err != nil {
		t.Fatalf("mercato trace %s: %v\n%s", orderID, err, out)
	}
	t.Logf("mercato trace %s:\n%s", orderID, out)
	text := string(out)
	// customers is not in an order's trace: the token proves the customer.
	if !strings.Contains(text, fmt.Sprintf("%d spans, 5 services", len(spans))) {
		t.Errorf("mercato trace header lacks %d spans, 5 services", len(spans))
	}
	for _, want := range []string{"edge", "orders", "inventory", "payments", "notifications", "saga stock_reserved", "consume mercato.orders.v1."} {
		if !strings.Contains(text, want) {
			t.Errorf("mercato trace output lacks %q", want)
		}
	}
	if strings.Contains(text, "parent not in trace") {
		t.Errorf("mercato trace shows orphans")
	}
}

// jaegerAPI serves spans as Jaeger's query API does: /api/traces/{id} and a search by service
// and tags.
func jaegerAPI(t *testing.T, spans []tracing.Span) http.Handler {
	trace := toJaeger(spans)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != trace.TraceID {
			http.Error(w, `{"errors":[{"code":404,"msg":"trace not found"}]}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(tracing.JaegerResponse{Data: []tracing.JaegerTrace{trace}})
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		var tags map[string]string
		if err := json.Unmarshal([]byte(r.URL.Query().Get("tags")), &tags); err != nil || r.URL.Query().Get("service") != "orders" {
			t.Errorf("search %s: want service=orders and JSON tags (%v)", r.URL.RawQuery, err)
			http.Error(w, "bad search", http.StatusBadRequest)
			return
		}
		res := tracing.JaegerResponse{Data: []tracing.JaegerTrace{}}
		for _, s := range spans {
			if id, ok := tags[tracing.OrderIDKey]; ok && s.Attributes[tracing.OrderIDKey] == id {
				res.Data = append(res.Data, trace)
				break
			}
		}
		_ = json.NewEncoder(w).Encode(res)
	})
	return mux
}

// toJaeger encodes spans in Jaeger's JSON model.
func toJaeger(spans []tracing.Span) tracing.JaegerTrace {
	tr := tracing.JaegerTrace{Processes: map[string]tracing.JaegerProcess{}}
	procs := map[string]string{}
	for _, s := range spans {
		tr.TraceID = s.TraceID
		pid, ok := procs[s.Service]
		if !ok {
			pid = fmt.Sprintf("p%d", len(procs)+1)
			procs[s.Service] = pid
			tr.Processes[pid] = tracing.JaegerProcess{ServiceName: s.Service}
		}
		js := tracing.JaegerSpan{TraceID: s.TraceID, SpanID: s.SpanID, OperationName: s.Name, ProcessID: pid,
			StartTime: s.Start.UnixMicro(), Duration: s.Duration.Microseconds(),
			Tags: []tracing.JaegerTag{{Key: "span.kind", Type: "string", Value: s.Kind}}}
		for k, v := range s.Attributes {
			js.Tags = append(js.Tags, tracing.JaegerTag{Key: k, Type: "string", Value: v})
		}
		if s.Error {
			js.Tags = append(js.Tags, tracing.JaegerTag{Key: "otel.status_code", Type: "string", Value: "ERROR"})
		}
		if s.ParentID != "" {
			js.References = []tracing.JaegerReference{{RefType: "CHILD_OF", TraceID: s.TraceID, SpanID: s.ParentID}}
		}
		tr.Spans = append(tr.Spans, js)
	}
	return tr
}

// find returns the first span of service with kind ("" any) whose name starts with name.
func find(spans []tracing.Span, service, kind, name string) *tracing.Span {
	for i, s := range spans {
		if s.Service == service && (kind == "" || s.Kind == kind) && strings.HasPrefix(s.Name, name) {
			return &spans[i]
		}
	}
	return nil
}

func describeSpan(s *tracing.Span) string {
	if s == nil {
		return "none"
	}
	return s.Service + " " + s.Kind + " " + s.Name
}

func waterfall(spans []tracing.Span) string {
	var b strings.Builder
	if err := tracing.Render(&b, spans); err != nil {
		return err.Error()
	}
	return b.String()
}
