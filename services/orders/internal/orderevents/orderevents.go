// Package orderevents builds the events that announce an order's final states — OrderConfirmed,
// OrderRejected, OrderCanceled (proto/mercato/orders/v1/events.proto) — as outbox rows. Each
// carries the order snapshot a consumer needs (customer, priced lines, total, payment, reason),
// so that no consumer has to call orders back.
package orderevents

import (
	"context"

	"google.golang.org/protobuf/proto"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/outbox"

	"mercato.dev/services/orders/internal/order"
)

// For returns the outbox event announcing o's move on from step from, or false when that move
// announces nothing. The event ID, occur time and trace context (of ctx) are filled by
// outbox.New.
func For(ctx context.Context, from order.Step, o order.Order) (outbox.Event, bool, error) {
	subject, msg := Message(o.Announces(from), o)
	if msg == nil {
		return outbox.Event{}, false, nil
	}
	ev, err := outbox.New(ctx, subject, msg)
	return ev, err == nil, err
}

// Message is the subject and message of event e about o; nil for order.NoEvent.
func Message(e order.Event, o order.Order) (string, proto.Message) {
	switch e {
	case order.EventConfirmed:
		m := &ordersv1.OrderConfirmed{OrderId: o.ID.String(), CustomerId: o.CustomerID.String(), Items: items(o), Total: total(o)}
		if o.PaymentID != nil {
			m.PaymentId = o.PaymentID.String()
		}
		return events.OrderConfirmed, m
	case order.EventRejected:
		return events.OrderRejected, &ordersv1.OrderRejected{
			OrderId: o.ID.String(), CustomerId: o.CustomerID.String(), Items: items(o), Total: total(o),
			Reason:  ordersv1.RejectReason(ordersv1.RejectReason_value[string(o.Reason)]),
			Message: o.Reason.Message(),
		}
	case order.EventCanceled:
		return events.OrderCanceled, &ordersv1.OrderCanceled{
			OrderId: o.ID.String(), CustomerId: o.CustomerID.String(), Items: items(o), Total: total(o),
			Reason: o.CancelReason,
		}
	}
	return "", nil
}

// items are o's lines, with prices once it is priced.
func items(o order.Order) []*ordersv1.OrderItem {
	out := make([]*ordersv1.OrderItem, 0, len(o.Items))
	for _, it := range o.Items {
		item := &ordersv1.OrderItem{ProductId: it.ProductID.String(), Quantity: int32(it.Quantity)}
		if o.Priced() {
			item.UnitPrice = money(it.UnitPrice, o.Total.Currency)
			item.LineTotal = money(it.LineTotal(), o.Total.Currency)
		}
		out = append(out, item)
	}
	return out
}

// total is o's total; nil until priced.
func total(o order.Order) *moneyv1.Money {
	if !o.Priced() {
		return nil
	}
	return money(o.Total.Amount, o.Total.Currency)
}

func money(amount int64, currency string) *moneyv1.Money {
	return &moneyv1.Money{AmountMinor: amount, Currency: currency}
}
