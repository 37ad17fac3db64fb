package events

import "mercato.dev/services/kit/busauthz"

// Subjects of the platform's events; see the package documentation for the naming rule.
const (
	// OrderConfirmed carries mercato.orders.v1.OrderConfirmed.
	OrderConfirmed = "mercato.orders.v1.confirmed"
	// OrderRejected carries mercato.orders.v1.OrderRejected.
	OrderRejected = "mercato.orders.v1.rejected"
	// OrderCanceled carries mercato.orders.v1.OrderCanceled.
	OrderCanceled = "mercato.orders.v1.canceled"

	// PaymentAuthorized carries mercato.payments.v1.PaymentAuthorized.
	PaymentAuthorized = "mercato.payments.v1.authorized"
	// PaymentDeclined carries mercato.payments.v1.PaymentDeclined.
	PaymentDeclined = "mercato.payments.v1.declined"
	// PaymentVoided carries mercato.payments.v1.PaymentVoided.
	PaymentVoided = "mercato.payments.v1.voided"

	// CustomerDeactivated carries mercato.customers.v1.CustomerDeactivated.
	CustomerDeactivated = busauthz.CustomerDeactivated

	// OrderEvents matches every order event.
	OrderEvents = "mercato.orders.>"
	// PaymentEvents matches every payment event.
	PaymentEvents = "mercato.payments.>"
	// CustomerEvents matches every customer event.
	CustomerEvents = "mercato.customers.>"
	// DeadLetterPrefix is prepended to a message's subject when it is dead-lettered.
	DeadLetterPrefix = busauthz.DeadLetterPrefix
)

// subjects maps event message full names to their subjects.
var subjects = map[string]string{
	"mercato.orders.v1.OrderConfirmed":         OrderConfirmed,
	"mercato.orders.v1.OrderRejected":          OrderRejected,
	"mercato.orders.v1.OrderCanceled":          OrderCanceled,
	"mercato.payments.v1.PaymentAuthorized":    PaymentAuthorized,
	"mercato.payments.v1.PaymentDeclined":      PaymentDeclined,
	"mercato.payments.v1.PaymentVoided":        PaymentVoided,
	"mercato.customers.v1.CustomerDeactivated": CustomerDeactivated,
}

// SubjectOf returns the subject of the event message with the given full name, such as
// "mercato.orders.v1.OrderConfirmed" (msg.ProtoReflect().Descriptor().FullName()).
func SubjectOf(fullName string) (string, bool) {
	s, ok := subjects[fullName]
	return s, ok
}
