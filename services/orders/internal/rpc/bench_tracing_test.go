package rpc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"

	"mercato.dev/services/kit/telemetry"
)

// BenchmarkCreateOrderTracing is BenchmarkCreateOrder (SQLite) under three tracing settings,
// side by side, reporting the process's CPU time per order (user + system, all goroutines:
// server, saga, store, client and exporter):
//
//   - noop: OpenTelemetry's no-op provider, the floor (what no tracing at all would cost);
//   - off: no OTLP endpoint (the default `make up`): spans get IDs, nothing is recorded;
//   - sampled-0%: an exporter configured, parentbased_traceidratio at 0;
//   - sampled-100%: every span recorded and exported over OTLP/HTTP to a receiver in this
//     process that reads and discards the bodies.
func BenchmarkCreateOrderTracing(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	for _, v := range []struct {
		name string
		env  map[string]string
	}{
		{"noop", nil},
		{"off", map[string]string{}},
		{"sampled-0%", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}},
		{"sampled-100%", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL, "OTEL_TRACES_SAMPLER": "always_on"}},
	} {
		b.Run(v.name, func(b *testing.B) {
			tr, err := telemetry.SetupTracing(context.Background(), "orders", "spiffe://mercato.local/svc/orders", func(k string) string { return v.env[k] })
			if err != nil {
				b.Fatal(err)
			}
			if v.env == nil {
				otel.SetTracerProvider(noop.NewTracerProvider())
			}
			f := newFixture(b) // after the provider: the interceptors take the one installed now
			c := f.as(b, alice)
			b.ResetTimer()
			before := cpuTime()
			for b.Loop() {
				res, err := c.CreateOrder(context.Background(), createRequest(alice, "pm_card_visa"))
				if err != nil || res.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
					b.Fatalf("%v, %v", res.GetOrder().GetStatus(), err)
				}
			}
			if err := tr.Shutdown(context.Background()); err != nil { // the export is part of the cost
				b.Fatal(err)
			}
			b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
