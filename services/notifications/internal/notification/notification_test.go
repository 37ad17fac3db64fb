package notification_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/notifications/internal/notification"
)

func TestPageTokenRoundTrip(t *testing.T) {
	t.Parallel()
	c := notification.Cursor{CreateTime: time.Date(2026, 11, 22, 3, 4, 5, 123456000, time.UTC), ID: uuid.New()}
	tok := notification.EncodePageToken(c)
	got, err := notification.DecodePageToken(tok)
	if err != nil || !got.CreateTime.Equal(c.CreateTime) || got.ID != c.ID {
		t.Fatalf("round trip of %+v via %q: %+v, %v", c, tok, got, err)
	}
	if first, err := notification.DecodePageToken(""); first != nil || err != nil {
		t.Errorf("empty token: %+v, %v; want the first page", first, err)
	}
}

func TestBadPageTokens(t *testing.T) {
	t.Parallel()
	good := notification.EncodePageToken(notification.Cursor{CreateTime: time.Now(), ID: uuid.New()})
	for name, tok := range map[string]string{
		"not base64":    "***",
		"too short":     good[:10],
		"too long":      good + "AAAA",
		"wrong version": "Ag" + good[2:],
		"padded":        good + "=",
	} {
		if _, err := notification.DecodePageToken(tok); !errors.Is(err, notification.ErrBadPageToken) {
			t.Errorf("%s (%q): %v, want ErrBadPageToken", name, tok, err)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := notification.Notification{EventID: uuid.New(), CustomerID: uuid.New(), OrderID: uuid.New(), Kind: notification.KindOrderConfirmed, Subject: "Your order is confirmed"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*notification.Notification){
		"no event":     func(n *notification.Notification) { n.EventID = uuid.Nil },
		"no customer":  func(n *notification.Notification) { n.CustomerID = uuid.Nil },
		"no order":     func(n *notification.Notification) { n.OrderID = uuid.Nil },
		"unknown kind": func(n *notification.Notification) { n.Kind = "order_shipped" },
		"long subject": func(n *notification.Notification) { n.Subject = strings.Repeat("é", 256) },
	} {
		n := ok
		mutate(&n)
		if err := n.Validate(); !errors.Is(err, notification.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
