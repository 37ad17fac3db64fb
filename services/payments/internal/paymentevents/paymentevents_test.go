package paymentevents_test

import (
	"testing"

	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/payments/internal/payment"
	"mercato.dev/services/payments/internal/paymentevents"
)

// TestFor: every status has its event, with the payment's snapshot, valid under the contract.
func TestFor(t *testing.T) {
	t.Parallel()
	p := payment.Payment{ID: uuid.New(), OrderID: uuid.New(), CustomerID: uuid.New(), Amount: payment.Money{AmountMinor: 1999, Currency: "EUR"}}
	tests := []struct {
		status  payment.Status
		reason  payment.DeclineReason
		subject string
		msg     proto.Message
	}{
		{payment.Authorized, payment.NotDeclined, events.PaymentAuthorized, &paymentsv1.PaymentAuthorized{}},
		{payment.Declined, payment.AmountTooLarge, events.PaymentDeclined, &paymentsv1.PaymentDeclined{}},
		{payment.Voided, payment.NotDeclined, events.PaymentVoided, &paymentsv1.PaymentVoided{}},
	}
	for _, tt := range tests {
		p.Status, p.DeclineReason = tt.status, tt.reason
		ev, err := paymentevents.For(t.Context(), p)
		if err != nil || ev.Subject != tt.subject {
			t.Fatalf("status %d: %q, %v; want %s", tt.status, ev.Subject, err, tt.subject)
		}
		if err := proto.Unmarshal(ev.Payload, tt.msg); err != nil {
			t.Fatal(err)
		}
		if err := protovalidate.Validate(tt.msg); err != nil {
			t.Errorf("%s breaks its contract: %v", tt.subject, err)
		}
	}
	if _, err := paymentevents.For(t.Context(), payment.Payment{ID: uuid.New()}); err == nil {
		t.Error("an event for a payment without status")
	}
}
