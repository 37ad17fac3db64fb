package orderevents_test

import (
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/orderevents"
)

// TestFor: each final state yields its event, valid under the contract's rules, with the
// snapshot a consumer needs; intermediate steps yield none.
func TestFor(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	placed := order.New(order.Request{
		CustomerID: uuid.New(), IdempotencyKey: "k-123456", PaymentMethod: "pm_card_visa",
		Items: []order.Line{{ProductID: a, Quantity: 2}, {ProductID: b, Quantity: 1}},
	}, order.Now(time.Now()), order.Lease{})
	priced := placed.CustomerChecked().Price(map[uuid.UUID]order.Money{a: {Amount: 1999, Currency: "EUR"}, b: {Amount: 500, Currency: "EUR"}})
	confirmed := priced.Reserved().Confirm(uuid.New())
	canceling, _ := confirmed.Cancel("changed my mind")
	compensating := priced.Reserved().Reject(order.ReasonPaymentDeclined, true)

	tests := []struct {
		name    string
		from    order.Step
		o       order.Order
		subject string // "" for no event
		check   func(t *testing.T, payload []byte)
	}{
		{"priced", order.StepCustomerChecked, priced, "", nil},
		{"confirmed", order.StepStockReserved, confirmed, events.OrderConfirmed, func(t *testing.T, payload []byte) {
			var ev ordersv1.OrderConfirmed
			decode(t, payload, &ev)
			if ev.GetOrderId() != confirmed.ID.String() || ev.GetCustomerId() != confirmed.CustomerID.String() ||
				ev.GetPaymentId() != confirmed.PaymentID.String() || ev.GetTotal().GetAmountMinor() != 4498 ||
				len(ev.GetItems()) != 2 || lineTotal(ev.GetItems(), a) != 3998 {
				t.Errorf("OrderConfirmed = %v", &ev)
			}
		}},
		{"rejected before pricing", order.StepCreated, placed.Reject(order.ReasonCustomerNotFound, false), events.OrderRejected, func(t *testing.T, payload []byte) {
			var ev ordersv1.OrderRejected
			decode(t, payload, &ev)
			if ev.GetReason() != ordersv1.RejectReason_REJECT_REASON_CUSTOMER_NOT_FOUND || ev.GetTotal() != nil ||
				ev.GetItems()[0].GetUnitPrice() != nil || ev.GetMessage() != order.ReasonCustomerNotFound.Message() {
				t.Errorf("OrderRejected = %v", &ev)
			}
		}},
		{"declined, compensating", order.StepStockReserved, compensating, "", nil},
		{"declined, compensated", order.StepCompensating, compensating.Compensated(), events.OrderRejected, func(t *testing.T, payload []byte) {
			var ev ordersv1.OrderRejected
			decode(t, payload, &ev)
			if ev.GetReason() != ordersv1.RejectReason_REJECT_REASON_PAYMENT_DECLINED || ev.GetTotal().GetAmountMinor() != 4498 {
				t.Errorf("OrderRejected = %v", &ev)
			}
		}},
		{"canceled", order.StepCompensating, canceling.Compensated(), events.OrderCanceled, func(t *testing.T, payload []byte) {
			var ev ordersv1.OrderCanceled
			decode(t, payload, &ev)
			if ev.GetOrderId() != confirmed.ID.String() || ev.GetTotal().GetAmountMinor() != 4498 || len(ev.GetItems()) != 2 || ev.GetReason() != "changed my mind" {
				t.Errorf("OrderCanceled = %v", &ev)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, ok, err := orderevents.For(t.Context(), tt.from, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if tt.subject == "" {
				if ok {
					t.Errorf("event %s for an intermediate step", ev.Subject)
				}
				return
			}
			if !ok || ev.Subject != tt.subject {
				t.Fatalf("event %q (%v), want %s", ev.Subject, ok, tt.subject)
			}
			if _, err := uuid.Parse(ev.ID); err != nil {
				t.Errorf("event ID %q: %v", ev.ID, err)
			}
			tt.check(t, ev.Payload)
		})
	}
}

// decode unmarshals payload into m and checks it against the contract's validation rules.
func decode(t *testing.T, payload []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(payload, m); err != nil {
		t.Fatal(err)
	}
	if err := protovalidate.Validate(m); err != nil {
		t.Errorf("%T breaks its contract: %v", m, err)
	}
}

func lineTotal(items []*ordersv1.OrderItem, product uuid.UUID) int64 {
	for _, it := range items {
		if it.GetProductId() == product.String() {
			return it.GetLineTotal().GetAmountMinor()
		}
	}
	return -1
}
