package payment_test

import (
	"testing"

	"mercato.dev/services/payments/internal/payment"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	eur := func(minor int64) payment.Money { return payment.Money{AmountMinor: minor, Currency: "EUR"} }
	tests := []struct {
		name   string
		method string
		amount payment.Money
		status payment.Status
		reason payment.DeclineReason
	}{
		{"ordinary card", "pm_card_visa", eur(1999), payment.Authorized, payment.NotDeclined},
		{"zero amount", "pm_card_visa", eur(0), payment.Authorized, payment.NotDeclined},
		{"exactly the limit", "pm_card_visa", eur(1_000_000), payment.Authorized, payment.NotDeclined},
		{"one above the limit", "pm_card_visa", eur(1_000_001), payment.Declined, payment.AmountTooLarge},
		{"declined card", "pm_card_declined", eur(100), payment.Declined, payment.CardDeclined},
		{"insufficient funds", "pm_insufficient_funds", eur(100), payment.Declined, payment.InsufficientFunds},
		{"declined card wins over amount", "pm_card_declined", eur(5_000_000), payment.Declined, payment.CardDeclined},
		{"funds win over amount", "pm_insufficient_funds", eur(5_000_000), payment.Declined, payment.InsufficientFunds},
		{"token is exact, not a prefix", "pm_card_declined_not", eur(100), payment.Authorized, payment.NotDeclined},
		{"limit ignores currency", "pm_card_visa", payment.Money{AmountMinor: 1_000_001, Currency: "JPY"}, payment.Declined, payment.AmountTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, reason := payment.Decide(tt.method, tt.amount)
			if status != tt.status || reason != tt.reason {
				t.Errorf("Decide(%q, %v) = %v, %v; want %v, %v", tt.method, tt.amount, status, reason, tt.status, tt.reason)
			}
		})
	}
}
