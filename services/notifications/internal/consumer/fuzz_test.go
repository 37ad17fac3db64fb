package consumer_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"

	"mercato.dev/services/notifications/internal/consumer"
)

// FuzzDecode feeds arbitrary subjects, message IDs and payloads to the order-event decoder:
// it never panics, and an event it accepts has IDs and a customer (what the notification is
// recorded under) and no negative total.
func FuzzDecode(f *testing.F) {
	valid, err := proto.Marshal(&ordersv1.OrderConfirmed{
		EventId: "0193f1c2-0000-7000-8000-000000000001", OccurTime: timestamppb.Now(),
		OrderId: "0193f1c2-0000-7000-8000-000000000002", CustomerId: "0193f1c2-0000-7000-8000-000000000003",
		Items: []*ordersv1.OrderItem{{ProductId: "0193f1c2-0000-7000-8000-000000000004", Quantity: 2}},
		Total: &moneyv1.Money{AmountMinor: 1999, Currency: "EUR"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(events.OrderConfirmed, "0193f1c2-0000-7000-8000-000000000001", valid)
	f.Add(events.OrderRejected, "", valid)
	f.Add(events.OrderCanceled, "not-a-uuid", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add("mercato.orders.v1.other", "", []byte{})
	f.Fuzz(func(t *testing.T, subject, id string, payload []byte) {
		e, err := consumer.Decode(events.Message{ID: id, Subject: subject, Payload: payload})
		if err != nil {
			return
		}
		var zero [16]byte
		if e.EventID == zero || e.OrderID == zero || e.CustomerID == zero {
			t.Fatalf("accepted an event without IDs: %+v", e)
		}
		if e.Total != nil && e.Total.Minor < 0 {
			t.Fatalf("accepted a negative total: %+v", e)
		}
	})
}
