package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mercato.dev/ops/tracing"
)

const (
	testTrace = "0af7651916cd43dd8448eb211c80319c"
	testOrder = "0193a5b2-7c1d-7d4e-9f00-aabbccddeeff"
)

// fakeJaeger serves one trace the way Jaeger's query API does, and finds it by the order ID
// tag on a span of service orders.
func fakeJaeger(t *testing.T) *httptest.Server {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC).UnixMicro()
	tr := tracing.JaegerTrace{
		TraceID: testTrace,
		Processes: map[string]tracing.JaegerProcess{
			"p1": {ServiceName: "edge"}, "p2": {ServiceName: "orders"}, "p3": {ServiceName: "payments"},
		},
		Spans: []tracing.JaegerSpan{
			{TraceID: testTrace, SpanID: "a1", OperationName: "/mercato.orders.v1.OrderService/CreateOrder", ProcessID: "p1", StartTime: t0, Duration: 40_000},
			{TraceID: testTrace, SpanID: "b2", OperationName: "saga stock_reserved", ProcessID: "p2", StartTime: t0 + 5_000, Duration: 20_000,
				References: []tracing.JaegerReference{{RefType: "CHILD_OF", TraceID: testTrace, SpanID: "a1"}},
				Tags:       []tracing.JaegerTag{{Key: tracing.OrderIDKey, Type: "string", Value: testOrder}}},
			{TraceID: testTrace, SpanID: "c3", OperationName: "mercato.payments.v1.PaymentService/AuthorizePayment", ProcessID: "p3", StartTime: t0 + 6_000, Duration: 9_000,
				References: []tracing.JaegerReference{{RefType: "CHILD_OF", TraceID: testTrace, SpanID: "b2"}},
				Tags:       []tracing.JaegerTag{{Key: "otel.status_code", Type: "string", Value: "ERROR"}}},
			{TraceID: testTrace, SpanID: "d4", OperationName: "late", ProcessID: "p2", StartTime: t0 + 30_000, Duration: 1_000,
				References: []tracing.JaegerReference{{RefType: "CHILD_OF", TraceID: testTrace, SpanID: "ffff"}}},
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != testTrace {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}`))
			return
		}
		_ = json.NewEncoder(w).Encode(tracing.JaegerResponse{Data: []tracing.JaegerTrace{tr}})
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		res := tracing.JaegerResponse{Data: []tracing.JaegerTrace{}}
		if r.URL.Query().Get("service") == "orders" && r.URL.Query().Get("tags") == `{"`+tracing.OrderIDKey+`":"`+testOrder+`"}` {
			res.Data = append(res.Data, tr)
		}
		_ = json.NewEncoder(w).Encode(res)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestTraceCommand(t *testing.T) {
	t.Parallel()
	api := fakeJaeger(t)
	for _, ref := range []string{testTrace, testOrder, strings.ToUpper(testOrder)} {
		var out, errOut bytes.Buffer
		if code := traceCmd(context.Background(), []string{"-jaeger", api.URL, ref}, &out, &errOut); code != 0 {
			t.Fatalf("mercato trace %s: exit %d: %s", ref, code, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 6 || !strings.Contains(lines[0], "4 spans, 3 services, 40.00ms") {
			t.Fatalf("mercato trace %s:\n%s", ref, out.String())
		}
		// Tree order with indentation, offsets, durations, status and the orphan marked.
		for i, want := range []string{
			`0µs   40.00ms  edge           ok     /mercato.orders.v1.OrderService/CreateOrder`,
			`5.00ms   20.00ms  orders         ok       saga stock_reserved`,
			`6.00ms    9.00ms  payments       ERROR      mercato.payments.v1.PaymentService/AuthorizePayment`,
			`30.00ms    1.00ms  orders         ok     late (parent not in trace)`,
		} {
			if !strings.Contains(lines[i+2], want) {
				t.Errorf("line %d = %q, want it to contain %q", i+2, lines[i+2], want)
			}
		}
	}
	for ref, code := range map[string]int{"not-an-id": 1, "0193a5b2-0000-7000-8000-000000000000": 1, "00000000000000000000000000000001": 1} {
		var out, errOut bytes.Buffer
		if got := traceCmd(context.Background(), []string{"-jaeger", api.URL, ref}, &out, &errOut); got != code || errOut.Len() == 0 {
			t.Errorf("mercato trace %s: exit %d (%q), want %d with a message", ref, got, errOut.String(), code)
		}
	}
	if got := traceCmd(context.Background(), nil, &bytes.Buffer{}, &bytes.Buffer{}); got != 2 {
		t.Errorf("mercato trace without an argument: exit %d, want 2", got)
	}
}
