package hcm

import (
	"net/http"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/propagation"
)

// TestHeaderCarrierIsOTelsHeaderCarrier: the edge's carrier reads and writes exactly what
// propagation.HeaderCarrier does, for the W3C keys and any other.
func TestHeaderCarrierIsOTelsHeaderCarrier(t *testing.T) {
	in := http.Header{
		"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"Tracestate":  {"a=1", "b=2"},
		"Baggage":     {"k=v"},
		"X-Other":     {"x"},
	}
	for _, key := range []string{"traceparent", "tracestate", "baggage", "x-other", "X-Other", "Traceparent", "missing"} {
		mine, theirs := headerCarrier(in.Clone()), propagation.HeaderCarrier(in.Clone())
		if a, b := mine.Get(key), theirs.Get(key); a != b {
			t.Errorf("Get(%q) = %q, want %q", key, a, b)
		}
		if a, b := mine.Values(key), theirs.Values(key); !slices.Equal(a, b) {
			t.Errorf("Values(%q) = %q, want %q", key, a, b)
		}
		mine.Set(key, "v2")
		theirs.Set(key, "v2")
		if a, b := http.Header(mine), http.Header(theirs); len(a) != len(b) || a.Get(key) != "v2" || !slices.Equal(a[http.CanonicalHeaderKey(key)], b[http.CanonicalHeaderKey(key)]) {
			t.Errorf("Set(%q): %v, want %v", key, a, b)
		}
		if a, b := mine.Keys(), theirs.Keys(); !slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))) {
			t.Errorf("Keys: %v, want %v", a, b)
		}
	}
}

// TestHeaderCarrierGetDoesNotAllocate: reading the W3C keys costs no allocation (http.Header.Get
// canonicalises "traceparent" into a new string on every call).
func TestHeaderCarrierGetDoesNotAllocate(t *testing.T) {
	h := headerCarrier(http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	if n := testing.AllocsPerRun(100, func() { _ = h.Get("traceparent"); _ = h.Get("tracestate") }); n != 0 {
		t.Errorf("%v allocations per Get, want 0", n)
	}
}
