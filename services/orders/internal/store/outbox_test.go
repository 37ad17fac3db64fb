package store_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders"
	"mercato.dev/ent/orders/migrate"
	"mercato.dev/ent/orders/outboxevent"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/store"
)

// TestOutbox: a final state's event is written with the state change, once, and the relay is
// notified after the commit; intermediate steps and refused (repeated) steps write nothing.
func TestOutbox(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		db := dbtest.Open(t, url, migrate.Migrations)
		var notified atomic.Int32
		s := store.New(db, store.WithNotify(func() { notified.Add(1) }))
		c := orders.NewClient(orders.Driver(db.Driver()))
		ctx := t.Context()
		lease := order.Lease{Owner: "me", ExpiresAt: now.Add(time.Minute)}
		outbox := func(id uuid.UUID) []*orders.OutboxEvent {
			t.Helper()
			var rows []*orders.OutboxEvent
			all, err := c.OutboxEvent.Query().Order(outboxevent.ByCreateTime()).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range all { // the payload is the only place the order ID is
				var ev ordersv1.OrderConfirmed // order_id and customer_id have the same numbers in every order event
				if proto.Unmarshal(r.Payload, &ev) == nil && ev.GetOrderId() == id.String() {
					rows = append(rows, r)
				}
			}
			return rows
		}
		advance := func(owner string, from order.Step, next order.Order) error {
			t.Helper()
			return s.Advance(ctx, owner, from, next)
		}

		o := mustCreate(t, s, newOrder(uuid.New(), lease))
		checked := o.CustomerChecked()
		prices := map[uuid.UUID]order.Money{}
		for _, it := range o.Items {
			prices[it.ProductID] = order.Money{Amount: 1250, Currency: "EUR"}
		}
		priced := checked.Price(prices)
		reserved := priced.Reserved()
		confirmed := reserved.Confirm(uuid.New())
		for _, step := range []struct {
			from order.Step
			next order.Order
		}{{o.Step, checked}, {checked.Step, priced}, {priced.Step, reserved}, {reserved.Step, confirmed}} {
			if err := advance("me", step.from, step.next); err != nil {
				t.Fatal(err)
			}
		}
		rows := outbox(o.ID)
		if len(rows) != 1 || notified.Load() != 1 {
			t.Fatalf("after confirming: %d outbox rows, %d notifications; want 1, 1", len(rows), notified.Load())
		}
		r := rows[0]
		var ev ordersv1.OrderConfirmed
		if err := proto.Unmarshal(r.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if r.Subject != events.OrderConfirmed || r.Status != outboxevent.StatusPending ||
			r.Headers[events.HeaderEventType] != "mercato.orders.v1.OrderConfirmed" || ev.GetEventId() != r.ID.String() {
			t.Errorf("row %s %s %v, event ID %s", r.Subject, r.Status, r.Headers, ev.GetEventId())
		}
		if ev.GetCustomerId() != o.CustomerID.String() || ev.GetPaymentId() != confirmed.PaymentID.String() ||
			ev.GetTotal().GetAmountMinor() != 3*1250 || ev.GetTotal().GetCurrency() != "EUR" || len(ev.GetItems()) != 2 ||
			ev.GetItems()[0].GetUnitPrice().GetAmountMinor() != 1250 || ev.GetOccurTime() == nil {
			t.Errorf("OrderConfirmed = %v", &ev)
		}

		// The same step persisted again (a retried saga step) is refused and announces nothing.
		if err := advance("me", reserved.Step, confirmed); !errors.Is(err, order.ErrLeaseLost) {
			t.Errorf("confirming again: %v, want ErrLeaseLost", err)
		}
		if rows := outbox(o.ID); len(rows) != 1 || notified.Load() != 1 {
			t.Errorf("after confirming again: %d rows, %d notifications; want 1, 1", len(rows), notified.Load())
		}

		// Canceling: compensating announces nothing, canceled does.
		if _, ok, err := s.Claim(ctx, o.ID, lease, now); err != nil || !ok {
			t.Fatalf("claim for cancel: %v %v", ok, err)
		}
		canceling, _ := confirmed.Cancel("changed my mind")
		if err := advance("me", confirmed.Step, canceling); err != nil {
			t.Fatal(err)
		}
		if rows := outbox(o.ID); len(rows) != 1 {
			t.Errorf("compensating wrote %d rows", len(rows)-1)
		}
		if err := advance("me", canceling.Step, canceling.Compensated()); err != nil {
			t.Fatal(err)
		}
		rows = outbox(o.ID)
		if len(rows) != 2 || rows[1].Subject != events.OrderCanceled || notified.Load() != 2 {
			t.Fatalf("after canceling: %d rows (last %s), %d notifications", len(rows), rows[len(rows)-1].Subject, notified.Load())
		}

		// Rejected at once, with its reason.
		r2 := mustCreate(t, s, newOrder(uuid.New(), lease))
		if err := advance("other", r2.Step, r2.Reject(order.ReasonCustomerInactive, false)); !errors.Is(err, order.ErrLeaseLost) {
			t.Errorf("rejecting without the lease: %v", err)
		}
		if err := advance("me", r2.Step, r2.Reject(order.ReasonCustomerInactive, false)); err != nil {
			t.Fatal(err)
		}
		rows = outbox(r2.ID)
		var rej ordersv1.OrderRejected
		if len(rows) != 1 || rows[0].Subject != events.OrderRejected || proto.Unmarshal(rows[0].Payload, &rej) != nil {
			t.Fatalf("rejected: %d rows", len(rows))
		}
		if rej.GetReason() != ordersv1.RejectReason_REJECT_REASON_CUSTOMER_INACTIVE || rej.GetMessage() == "" || rej.GetTotal() != nil {
			t.Errorf("OrderRejected = %v", &rej)
		}
	})
}
