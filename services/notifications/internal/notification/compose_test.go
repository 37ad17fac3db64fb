package notification_test

import (
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"

	"mercato.dev/services/notifications/internal/notification"
)

func TestMoneyString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    notification.Money
		want string
	}{
		{notification.Money{Minor: 5998, Currency: "EUR"}, "59.98 EUR"},
		{notification.Money{Minor: 5, Currency: "EUR"}, "0.05 EUR"},
		{notification.Money{Minor: 0, Currency: "USD"}, "0.00 USD"},
		{notification.Money{Minor: 1200, Currency: "JPY"}, "1200 JPY"},
		{notification.Money{Minor: 1250, Currency: "KWD"}, "1.250 KWD"},
		{notification.Money{Minor: -150, Currency: "EUR"}, "-1.50 EUR"},
		{notification.Money{Minor: math.MinInt64, Currency: "EUR"}, "-92233720368547758.08 EUR"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	order := uuid.MustParse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	base := notification.OrderEvent{EventID: uuid.New(), OrderID: order, CustomerID: uuid.New(), Units: 3,
		Total: &notification.Money{Minor: 5998, Currency: "EUR"}}
	tests := []struct {
		name          string
		kind          notification.Kind
		reason        string
		total         bool
		subject, body string
	}{
		{"confirmed", notification.KindOrderConfirmed, "", true, "Your order 0193A1B2 is confirmed", "Order " + order.String() + " is confirmed: 3 items, total 59.98 EUR."},
		{"rejected", notification.KindOrderRejected, "the payment was declined", true, "Your order 0193A1B2 could not be placed", "(3 items, total 59.98 EUR) because the payment was declined. You have not been charged."},
		{"rejected unpriced", notification.KindOrderRejected, "", false, "Your order 0193A1B2 could not be placed", "(3 items) because it could not be completed."},
		{"canceled", notification.KindOrderCanceled, "changed my mind", true, "Your order 0193A1B2 is canceled", "is canceled and its payment released. Reason: changed my mind."},
	}
	for _, tt := range tests {
		e := base
		e.Kind, e.Reason = tt.kind, tt.reason
		if !tt.total {
			e.Total = nil
		}
		n := notification.Compose(e)
		if n.Subject != tt.subject || !strings.Contains(n.Body, tt.body) {
			t.Errorf("%s: %q / %q; want %q / …%q…", tt.name, n.Subject, n.Body, tt.subject, tt.body)
		}
		if err := n.Validate(); err != nil || n.EventID != e.EventID || n.OrderID != order || n.Kind != tt.kind {
			t.Errorf("%s: %+v: %v", tt.name, n, err)
		}
	}
}
