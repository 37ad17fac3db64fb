package order_test

import (
	"testing"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
)

func TestAnnounces(t *testing.T) {
	t.Parallel()
	p := uuid.New()
	priced := newOrder(order.Line{ProductID: p, Quantity: 1}).CustomerChecked().
		Price(map[uuid.UUID]order.Money{p: {Amount: 100, Currency: "EUR"}})
	reserved := priced.Reserved()
	confirmed := reserved.Confirm(uuid.New())
	canceling, err := confirmed.Cancel("changed my mind")
	if err != nil {
		t.Fatal(err)
	}
	declined := reserved.Reject(order.ReasonPaymentDeclined, true)
	tests := []struct {
		name string
		from order.Step
		next order.Order
		want order.Event
	}{
		{"checked", order.StepCreated, newOrder().CustomerChecked(), order.NoEvent},
		{"priced", order.StepCustomerChecked, priced, order.NoEvent},
		{"reserved", order.StepPriced, reserved, order.NoEvent},
		{"confirmed", order.StepStockReserved, confirmed, order.EventConfirmed},
		{"rejected at once", order.StepCreated, newOrder().Reject(order.ReasonCustomerInactive, false), order.EventRejected},
		{"declined: compensating first", order.StepStockReserved, declined, order.NoEvent},
		{"declined: compensated", order.StepCompensating, declined.Compensated(), order.EventRejected},
		{"cancel begins", order.StepConfirmed, canceling, order.NoEvent},
		{"canceled", order.StepCompensating, canceling.Compensated(), order.EventCanceled},
		{"same step again", order.StepConfirmed, confirmed, order.NoEvent},
	}
	for _, tt := range tests {
		if got := tt.next.Announces(tt.from); got != tt.want {
			t.Errorf("%s: Announces(%s) = %d, want %d", tt.name, tt.from, got, tt.want)
		}
	}
}
