// Package consumer turns order events from the ORDERS stream into notifications: it decodes an
// event by its subject, composes what the customer reads, and records it once per event ID.
// An event that cannot be understood is dead-lettered at once (events.Permanent); a failure to
// record is returned so that the broker redelivers the event later.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"

	"mercato.dev/services/notifications/internal/notification"
)

// Recorder records a notification once per event (notification.Service).
type Recorder interface {
	Record(ctx context.Context, n notification.Notification) (created bool, err error)
}

// Handler returns the events.Handler of order events, recording their notifications with r.
func Handler(r Recorder, log *slog.Logger) events.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, m events.Message) error {
		e, err := Decode(m)
		if errors.Is(err, errNotForUs) {
			log.Debug("order event ignored", "subject", m.Subject, "event_id", m.ID)
			return nil
		}
		if err != nil {
			return events.Permanent(err)
		}
		created, err := r.Record(ctx, notification.Compose(e))
		if errors.Is(err, notification.ErrInvalid) {
			return events.Permanent(err)
		}
		if err != nil {
			return err
		}
		log.Debug("order event handled", "subject", m.Subject, "event_id", e.EventID, "order_id", e.OrderID, "duplicate", !created)
		return nil
	}
}

// errNotForUs: a subject of the stream this service does not notify about.
var errNotForUs = errors.New("not an event this service notifies about")

// orderEvent is the part every order event message shares.
type orderEvent interface {
	proto.Message
	GetEventId() string
	GetOrderId() string
	GetCustomerId() string
	GetItems() []*ordersv1.OrderItem
	GetTotal() *moneyv1.Money
}

// Decode reads an order event by its subject and checks it against the contract's rules.
func Decode(m events.Message) (notification.OrderEvent, error) {
	var (
		msg    orderEvent
		kind   notification.Kind
		reason func() string
	)
	switch m.Subject {
	case events.OrderConfirmed:
		ev := &ordersv1.OrderConfirmed{}
		msg, kind, reason = ev, notification.KindOrderConfirmed, func() string { return "" }
	case events.OrderRejected:
		ev := &ordersv1.OrderRejected{}
		msg, kind, reason = ev, notification.KindOrderRejected, func() string { return rejection(ev) }
	case events.OrderCanceled:
		ev := &ordersv1.OrderCanceled{}
		msg, kind, reason = ev, notification.KindOrderCanceled, ev.GetReason
	default:
		return notification.OrderEvent{}, errNotForUs
	}
	if err := proto.Unmarshal(m.Payload, msg); err != nil {
		return notification.OrderEvent{}, fmt.Errorf("decode %s: %w", m.Subject, err)
	}
	if err := protovalidate.Validate(msg); err != nil {
		return notification.OrderEvent{}, fmt.Errorf("%s breaks its contract: %w", m.Subject, err)
	}
	e := notification.OrderEvent{Kind: kind, Reason: reason()}
	var err error
	if e.EventID, err = eventID(m, msg.GetEventId()); err != nil {
		return notification.OrderEvent{}, err
	}
	if e.OrderID, err = uuid.Parse(msg.GetOrderId()); err != nil {
		return notification.OrderEvent{}, fmt.Errorf("%s: order_id: %w", m.Subject, err)
	}
	if e.CustomerID, err = uuid.Parse(msg.GetCustomerId()); err != nil {
		return notification.OrderEvent{}, fmt.Errorf("%s: customer_id: %w", m.Subject, err)
	}
	for _, it := range msg.GetItems() {
		e.Units += int64(it.GetQuantity())
	}
	if t := msg.GetTotal(); t != nil {
		e.Total = &notification.Money{Minor: t.GetAmountMinor(), Currency: t.GetCurrency()}
	}
	return e, nil
}

// eventID is the key the event is deduplicated by: the message ID the producer published it
// under (the outbox's event ID), or else the event_id of the payload.
func eventID(m events.Message, inPayload string) (uuid.UUID, error) {
	if id, err := uuid.Parse(m.ID); err == nil {
		return id, nil
	}
	id, err := uuid.Parse(inPayload)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s: no event ID (message ID %q, event_id %q)", m.Subject, m.ID, inPayload)
	}
	return id, nil
}

// rejection is why the order was rejected, as a customer reads it: the event's message, or a
// text for its reason.
func rejection(ev *ordersv1.OrderRejected) string {
	if msg := ev.GetMessage(); msg != "" {
		return msg
	}
	switch ev.GetReason() {
	case ordersv1.RejectReason_REJECT_REASON_OUT_OF_STOCK:
		return "a product is out of stock"
	case ordersv1.RejectReason_REJECT_REASON_PAYMENT_DECLINED:
		return "the payment was declined"
	case ordersv1.RejectReason_REJECT_REASON_CUSTOMER_INACTIVE:
		return "your account is inactive"
	case ordersv1.RejectReason_REJECT_REASON_PRODUCT_NOT_FOUND:
		return "a product is no longer sold"
	}
	return ""
}
