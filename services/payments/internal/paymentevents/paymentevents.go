// Package paymentevents builds the events that announce a payment's changes — PaymentAuthorized,
// PaymentDeclined, PaymentVoided (proto/mercato/payments/v1/events.proto) — as outbox rows, each
// with the payment's snapshot so that no consumer has to call payments back.
package paymentevents

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/outbox"

	"mercato.dev/services/payments/internal/payment"
)

// For returns the outbox event announcing that p reached its status: authorized, declined or
// voided. The event ID, occur time and trace context (of ctx) are filled by outbox.New.
func For(ctx context.Context, p payment.Payment) (outbox.Event, error) {
	subject, msg := Message(p)
	if msg == nil {
		return outbox.Event{}, fmt.Errorf("payment %s: no event for status %d", p.ID, p.Status)
	}
	return outbox.New(ctx, subject, msg)
}

// Message is the subject and message announcing p's status; "" and nil for an unknown status.
func Message(p payment.Payment) (string, proto.Message) {
	id, order, customer := p.ID.String(), p.OrderID.String(), p.CustomerID.String()
	amount := &moneyv1.Money{AmountMinor: p.Amount.AmountMinor, Currency: p.Amount.Currency}
	switch p.Status {
	case payment.Authorized:
		return events.PaymentAuthorized, &paymentsv1.PaymentAuthorized{PaymentId: id, OrderId: order, CustomerId: customer, Amount: amount}
	case payment.Declined:
		return events.PaymentDeclined, &paymentsv1.PaymentDeclined{PaymentId: id, OrderId: order, CustomerId: customer, Amount: amount, Reason: reasons[p.DeclineReason]}
	case payment.Voided:
		return events.PaymentVoided, &paymentsv1.PaymentVoided{PaymentId: id, OrderId: order, CustomerId: customer, Amount: amount}
	}
	return "", nil
}

var reasons = map[payment.DeclineReason]paymentsv1.DeclineReason{
	payment.CardDeclined:      paymentsv1.DeclineReason_DECLINE_REASON_CARD_DECLINED,
	payment.InsufficientFunds: paymentsv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS,
	payment.AmountTooLarge:    paymentsv1.DeclineReason_DECLINE_REASON_AMOUNT_TOO_LARGE,
}
