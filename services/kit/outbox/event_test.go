package outbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/outbox"
)

func tracedContext() (context.Context, trace.SpanContext) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

func TestNewFillsTheEventFields(t *testing.T) {
	t.Parallel()
	ctx, sc := tracedContext()
	msg := &ordersv1.OrderConfirmed{OrderId: "0192f0c4-0000-7000-8000-00000000000a"}
	before := time.Now()
	ev, err := outbox.New(ctx, events.OrderConfirmed, msg)
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(ev.ID)
	if err != nil || id.Version() != 7 {
		t.Errorf("event ID %q is not a UUIDv7 (%v)", ev.ID, err)
	}
	wantTP := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if ev.Subject != events.OrderConfirmed || ev.Headers["traceparent"] != wantTP ||
		ev.Headers[events.HeaderEventType] != "mercato.orders.v1.OrderConfirmed" {
		t.Errorf("event = %+v", ev)
	}
	if ev.CreateTime.Before(before) || ev.CreateTime.Location() != time.UTC {
		t.Errorf("create time %v, want a UTC time after %v", ev.CreateTime, before)
	}

	var got ordersv1.OrderConfirmed
	if err := proto.Unmarshal(ev.Payload, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetEventId() != ev.ID || got.GetOrderId() != msg.GetOrderId() ||
		!got.GetOccurTime().AsTime().Equal(ev.CreateTime) || got.GetTraceContext()["traceparent"] != wantTP {
		t.Errorf("payload = %v", &got)
	}
	if msg.GetEventId() != "" || msg.GetOccurTime() != nil || msg.GetTraceContext() != nil {
		t.Errorf("New modified its argument: %v", msg)
	}
}

func TestNewKeepsTheMessagesOwnFields(t *testing.T) {
	t.Parallel()
	ctx, _ := tracedContext()
	given := &ordersv1.OrderCanceled{
		EventId:      "0192f0c4-0000-7000-8000-0000000000ff",
		TraceContext: map[string]string{"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"},
	}
	ev, err := outbox.New(ctx, events.OrderCanceled, given)
	if err != nil {
		t.Fatal(err)
	}
	var got ordersv1.OrderCanceled
	if err := proto.Unmarshal(ev.Payload, &got); err != nil {
		t.Fatal(err)
	}
	if ev.ID != given.EventId || got.GetEventId() != given.EventId ||
		got.GetTraceContext()["traceparent"] != given.TraceContext["traceparent"] {
		t.Errorf("event %s, payload %v", ev.ID, &got)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := outbox.New(ctx, events.OrderCanceled, &ordersv1.OrderCanceled{EventId: "order-42"}); err == nil ||
		!strings.Contains(err.Error(), "not a UUID") {
		t.Errorf("a non-UUID event_id: %v", err)
	}
	if _, err := outbox.New(ctx, "", &ordersv1.OrderCanceled{}); err == nil {
		t.Error("an empty subject was accepted")
	}
}

func TestNewOnAMessageWithoutEventFields(t *testing.T) {
	t.Parallel()
	ev, err := outbox.New(context.Background(), "mercato.test.v1.said", wrapperspb.String("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := uuid.Parse(ev.ID); err != nil || id.Version() != 7 {
		t.Errorf("event ID %q", ev.ID)
	}
	if _, ok := ev.Headers["traceparent"]; ok {
		t.Error("a traceparent was invented without a span in the context")
	}
	var got wrapperspb.StringValue
	if err := proto.Unmarshal(ev.Payload, &got); err != nil || got.GetValue() != "hello" {
		t.Errorf("payload %v, %v", &got, err)
	}
}
