package store

import (
	"time"

	ent "mercato.dev/ent/payments"
	entpayment "mercato.dev/ent/payments/payment"
	"mercato.dev/services/payments/internal/payment"
)

var (
	statuses = map[payment.Status]entpayment.Status{
		payment.Authorized: entpayment.StatusAuthorized,
		payment.Declined:   entpayment.StatusDeclined,
		payment.Voided:     entpayment.StatusVoided,
	}
	reasons = map[payment.DeclineReason]string{
		payment.CardDeclined:      "card_declined",
		payment.InsufficientFunds: "insufficient_funds",
		payment.AmountTooLarge:    "amount_too_large",
	}
)

func toStatus(s payment.Status) entpayment.Status { return statuses[s] }

// toReason is the stored decline reason; nil (NULL) when not declined.
func toReason(r payment.DeclineReason) *string {
	if v, ok := reasons[r]; ok {
		return &v
	}
	return nil
}

func toPayment(row *ent.Payment) payment.Payment {
	p := payment.Payment{
		ID: row.ID, OrderID: row.OrderID, CustomerID: row.CustomerID,
		Amount: payment.Money{AmountMinor: row.AmountMinor, Currency: row.Currency},
		Method: row.PaymentMethod, CreateTime: storedTime(row.CreateTime), UpdateTime: storedTime(row.UpdateTime),
	}
	for s, v := range statuses {
		if v == row.Status {
			p.Status = s
		}
	}
	for r, v := range reasons {
		if v == row.DeclineReason {
			p.DeclineReason = r
		}
	}
	return p
}

// storedTime is t in UTC as the database keeps it (PostgreSQL: microseconds), so that the answer to
// the call that wrote a row equals every later read of it.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
