package events_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"mercato.dev/services/kit/busauthz"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
)

func TestEnsureStreamIsIdempotentAndUpdates(t *testing.T) {
	t.Parallel()
	_, js := eventstest.Connect(t, eventstest.URL())
	ns := eventstest.NewNamespace(t, js) // created once already
	ctx := context.Background()

	s, err := events.EnsureStream(ctx, js, ns.Orders)
	if err != nil {
		t.Fatalf("EnsureStream again: %v", err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Storage != jetstream.FileStorage || cfg.Retention != jetstream.LimitsPolicy ||
		cfg.MaxAge != events.DefaultMaxAge || cfg.Duplicates != events.DefaultDuplicates ||
		len(cfg.Subjects) != 1 || cfg.Subjects[0] != ns.Prefix+".orders.>" {
		t.Errorf("ORDERS config = %+v", cfg)
	}

	changed := ns.Orders
	changed.MaxAge = 48 * time.Hour
	s, err = events.EnsureStream(ctx, js, changed)
	if err != nil {
		t.Fatalf("EnsureStream with a new max age: %v", err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != 48*time.Hour {
		t.Errorf("max age after update = %s, want 48h", got)
	}

	dlq, err := js.Stream(ctx, ns.DLQ.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got := dlq.CachedInfo().Config; got.MaxAge != events.DefaultDLQMaxAge || got.Subjects[0] != ns.Prefix+".dlq.>" {
		t.Errorf("DLQ config = %+v", got)
	}
}

func TestPlatformStreams(t *testing.T) {
	t.Parallel()
	want := map[string]string{"ORDERS": "mercato.orders.>", "PAYMENTS": "mercato.payments.>", "CUSTOMERS": "mercato.customers.>", "DLQ": "mercato.dlq.>"}
	for _, s := range events.Streams() {
		if len(s.Subjects) != 1 || want[s.Name] != s.Subjects[0] {
			t.Errorf("stream %s subjects %v, want [%s]", s.Name, s.Subjects, want[s.Name])
		}
		delete(want, s.Name)
	}
	if len(want) != 0 {
		t.Errorf("missing streams %v", want)
	}
}

// TestStreamsAgreeWithTheBusTable: the streams services create are the ones the bus
// authorization table names, capturing the same subjects, so permissions and streams match.
func TestStreamsAgreeWithTheBusTable(t *testing.T) {
	t.Parallel()
	for _, s := range events.Streams() {
		if got := busauthz.StreamSubjects[s.Name]; !slices.Equal(got, s.Subjects) {
			t.Errorf("stream %s captures %v, the bus table says %v", s.Name, s.Subjects, got)
		}
	}
	if len(events.Streams()) != len(busauthz.StreamSubjects) {
		t.Errorf("%d streams, the bus table names %d", len(events.Streams()), len(busauthz.StreamSubjects))
	}
	if got := events.StreamsOf(identity.Service("orders")); len(got) != 2 || got[0].Name != "ORDERS" || got[1].Name != "DLQ" {
		t.Errorf("orders ensures %v, want ORDERS and DLQ", got)
	}
	if got := events.StreamsOf(identity.Edge); len(got) != 0 {
		t.Errorf("the edge ensures %v, want nothing", got)
	}
}

func TestSubjectOf(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, subject string }{
		{"mercato.orders.v1.OrderConfirmed", events.OrderConfirmed},
		{"mercato.orders.v1.OrderRejected", events.OrderRejected},
		{"mercato.orders.v1.OrderCanceled", events.OrderCanceled},
		{"mercato.payments.v1.PaymentAuthorized", events.PaymentAuthorized},
		{"mercato.payments.v1.PaymentDeclined", events.PaymentDeclined},
		{"mercato.payments.v1.PaymentVoided", events.PaymentVoided},
	}
	for _, tt := range tests {
		if got, ok := events.SubjectOf(tt.name); !ok || got != tt.subject {
			t.Errorf("SubjectOf(%s) = %q, %v; want %q", tt.name, got, ok, tt.subject)
		}
	}
	if _, ok := events.SubjectOf("mercato.orders.v1.Order"); ok {
		t.Error("SubjectOf(a non-event) succeeded")
	}
}
