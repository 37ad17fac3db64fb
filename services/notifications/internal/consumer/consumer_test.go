package consumer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/outbox"

	"mercato.dev/services/notifications/internal/consumer"
	"mercato.dev/services/notifications/internal/notification"
)

// recorder is a Recorder keeping notifications by event ID, or failing with err.
type recorder struct {
	got map[uuid.UUID]notification.Notification
	err error
}

func (r *recorder) Record(_ context.Context, n notification.Notification) (bool, error) {
	if r.err != nil {
		return false, r.err
	}
	if err := n.Validate(); err != nil {
		return false, err
	}
	if _, ok := r.got[n.EventID]; ok {
		return false, nil
	}
	r.got[n.EventID] = n
	return true, nil
}

var (
	orderID    = uuid.New()
	customerID = uuid.New()
	items      = []*ordersv1.OrderItem{{ProductId: uuid.NewString(), Quantity: 2}, {ProductId: uuid.NewString(), Quantity: 1}}
	total      = &moneyv1.Money{AmountMinor: 5998, Currency: "EUR"}
)

// message is a delivery of ev on subject, as an outbox publishes it: with a fresh event ID.
func message(t *testing.T, subject string, ev proto.Message) events.Message {
	t.Helper()
	out, err := outbox.New(t.Context(), subject, ev)
	if err != nil {
		t.Fatal(err)
	}
	return events.Message{ID: out.ID, Subject: subject, Payload: out.Payload, Delivery: 1}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	confirmed := &ordersv1.OrderConfirmed{OrderId: orderID.String(), CustomerId: customerID.String(), Items: items, Total: total, PaymentId: uuid.NewString()}
	tests := []struct {
		name    string
		subject string
		ev      proto.Message
		kind    notification.Kind
		text    string
	}{
		{"confirmed", events.OrderConfirmed, confirmed, notification.KindOrderConfirmed, "3 items, total 59.98 EUR"},
		{"rejected", events.OrderRejected, &ordersv1.OrderRejected{OrderId: orderID.String(), CustomerId: customerID.String(), Items: items,
			Reason: ordersv1.RejectReason_REJECT_REASON_OUT_OF_STOCK}, notification.KindOrderRejected, "because a product is out of stock"},
		{"canceled", events.OrderCanceled, &ordersv1.OrderCanceled{OrderId: orderID.String(), CustomerId: customerID.String(), Items: items, Total: total},
			notification.KindOrderCanceled, "is canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{got: map[uuid.UUID]notification.Notification{}}
			h := consumer.Handler(r, nil)
			m := message(t, tt.subject, tt.ev)
			for range 2 { // a redelivery records nothing more and is acknowledged
				if err := h(t.Context(), m); err != nil {
					t.Fatal(err)
				}
			}
			n, ok := r.got[uuid.MustParse(m.ID)]
			if len(r.got) != 1 || !ok || n.Kind != tt.kind || n.OrderID != orderID || n.CustomerID != customerID || !strings.Contains(n.Body, tt.text) {
				t.Errorf("recorded %+v, want one %s mentioning %q", r.got, tt.kind, tt.text)
			}
		})
	}
}

func TestHandlerFailures(t *testing.T) {
	t.Parallel()
	good := message(t, events.OrderConfirmed, &ordersv1.OrderConfirmed{OrderId: orderID.String(), CustomerId: customerID.String(), Items: items, Total: total})
	noTotal := message(t, events.OrderConfirmed, &ordersv1.OrderConfirmed{OrderId: orderID.String(), CustomerId: customerID.String()})
	noMsgID := good
	noMsgID.ID = "ORDERS:17"
	badIDs := good
	badIDs.ID = "ORDERS:17"
	badIDs.Payload = []byte{}
	tests := []struct {
		name      string
		m         events.Message
		recordErr error
		permanent bool
		ok        bool
	}{
		{"garbage", events.Message{ID: uuid.NewString(), Subject: events.OrderConfirmed, Payload: []byte("not a protobuf")}, nil, true, false},
		{"empty payload", events.Message{ID: uuid.NewString(), Subject: events.OrderRejected}, nil, true, false},
		{"breaks the contract", noTotal, nil, true, false},
		{"event ID from the payload", noMsgID, nil, false, true},
		{"no event ID at all", badIDs, nil, true, false},
		{"another subject", events.Message{ID: uuid.NewString(), Subject: "mercato.orders.v1.shipped", Payload: []byte("x")}, nil, false, true},
		{"database down", good, errors.New("connection refused"), false, false},
		{"refused notification", good, notification.ErrInvalid, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := consumer.Handler(&recorder{got: map[uuid.UUID]notification.Notification{}, err: tt.recordErr}, nil)(t.Context(), tt.m)
			if (err == nil) != tt.ok || events.IsPermanent(err) != tt.permanent {
				t.Errorf("error %v (permanent %v); want ok %v, permanent %v", err, events.IsPermanent(err), tt.ok, tt.permanent)
			}
		})
	}
}
