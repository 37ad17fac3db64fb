package notification

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// OrderEvent is what an order event tells, as far as a notification goes.
type OrderEvent struct {
	EventID    uuid.UUID
	Kind       Kind
	OrderID    uuid.UUID
	CustomerID uuid.UUID
	Units      int64  // units ordered, over every line
	Total      *Money // nil when the order was never priced
	// Reason is why the order was rejected (a sentence fragment such as "the payment was
	// declined"), or the reason given for its cancellation; may be empty.
	Reason string
}

// Compose writes the notification a customer reads about e.
func Compose(e OrderEvent) Notification {
	n := Notification{EventID: e.EventID, CustomerID: e.CustomerID, OrderID: e.OrderID, Kind: e.Kind}
	ref := shortRef(e.OrderID)
	switch e.Kind {
	case KindOrderConfirmed:
		n.Subject = fmt.Sprintf("Your order %s is confirmed", ref)
		n.Body = fmt.Sprintf("Thank you for your order! Order %s is confirmed: %s%s. Your payment is authorized.",
			e.OrderID, units(e.Units), total(e.Total))
	case KindOrderRejected:
		n.Subject = fmt.Sprintf("Your order %s could not be placed", ref)
		why := "it could not be completed"
		if e.Reason != "" {
			why = e.Reason
		}
		n.Body = fmt.Sprintf("We are sorry: we could not place order %s (%s%s) because %s. You have not been charged.",
			e.OrderID, units(e.Units), total(e.Total), why)
	case KindOrderCanceled:
		n.Subject = fmt.Sprintf("Your order %s is canceled", ref)
		n.Body = fmt.Sprintf("Order %s (%s%s) is canceled and its payment released.", e.OrderID, units(e.Units), total(e.Total))
		if e.Reason != "" {
			n.Body += " Reason: " + e.Reason + "."
		}
	}
	return n
}

// shortRef is how a customer recognizes an order at a glance: its ID's first 8 hex digits.
func shortRef(id uuid.UUID) string { return strings.ToUpper(id.String()[:8]) }

func units(n int64) string {
	if n == 1 {
		return "1 item"
	}
	return fmt.Sprintf("%d items", n)
}

func total(m *Money) string {
	if m == nil {
		return ""
	}
	return ", total " + m.String()
}
