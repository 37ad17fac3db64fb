package main_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/proto"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/kittest"
)

// TestBinaryPublishesEvents: the payments binary announces each change once through its outbox
// (authorized, declined, voided — a second void announces nothing), with the event ID as the
// message ID; with the broker down it keeps authorizing and stays ready, and the event it held
// is published once the broker is back on the same store and port.
func TestBinaryPublishesEvents(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{ordersSvc})
	broker := eventstest.StartBroker(t, env, "", 0)
	p := env.StartService(t, "payments", kittest.Build(t, "mercato.dev/services/payments/cmd/payments"), map[string]string{"NATS_URL": broker.URL()})
	nc, js := broker.Inspect(t)
	c := paymentsv1connect.NewPaymentServiceClient(env.HTTPClient(t, ordersSvc, paymentsSvc), "https://"+p.Addr)
	authorize := func(method string) string {
		t.Helper()
		order := uuid.NewString()
		_, err := c.AuthorizePayment(t.Context(), &paymentsv1.AuthorizePaymentRequest{
			OrderId: order, CustomerId: uuid.NewString(), PaymentMethod: method,
			Amount: &moneyv1.Money{AmountMinor: 2500, Currency: "EUR"},
		})
		if err != nil {
			t.Fatalf("authorize: %v", err)
		}
		return order
	}
	paid := authorize("pm_card_visa")
	authorize("pm_card_declined")
	for range 2 {
		if _, err := c.VoidPayment(t.Context(), &paymentsv1.VoidPaymentRequest{OrderId: paid}); err != nil {
			t.Fatalf("void: %v", err)
		}
	}
	msgs := awaitStream(t, js, "PAYMENTS", 3)
	for i, want := range []string{events.PaymentAuthorized, events.PaymentDeclined, events.PaymentVoided} {
		var ev paymentsv1.PaymentVoided // event ID and order: the same numbers in every payment event
		if err := proto.Unmarshal(msgs[i].Data, &ev); err != nil {
			t.Fatal(err)
		}
		if msgs[i].Subject != want || msgs[i].Header.Get(jetstream.MsgIDHeader) != ev.GetEventId() {
			t.Errorf("event %d: %s with message ID %q and event ID %q; want %s under its event ID",
				i, msgs[i].Subject, msgs[i].Header.Get(jetstream.MsgIDHeader), ev.GetEventId(), want)
		}
	}

	broker.Shutdown()
	authorize("pm_card_visa")
	if res, err := http.Get("http://" + p.AdminAddr + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("payments not ready with the broker down: %v %v", res.Status, err)
	}
	broker.Restart()
	for start := time.Now(); !nc.IsConnected(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the test's connection did not come back within 10s of the restart")
		}
	}
	if msgs := awaitStream(t, js, "PAYMENTS", 4); msgs[3].Subject != events.PaymentAuthorized {
		t.Errorf("event held during the outage: %s", msgs[3].Subject)
	}
}

// awaitStream waits until stream holds n messages, and returns them.
func awaitStream(t *testing.T, js jetstream.JetStream, stream string, n int) []*jetstream.RawStreamMsg {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if msgs := streamMessages(t, js, stream); len(msgs) >= n {
			if len(msgs) > n {
				t.Fatalf("%s holds %d messages, want %d", stream, len(msgs), n)
			}
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages after 20s, want %d", stream, len(streamMessages(t, js, stream)), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// streamMessages is every message of stream, or none while the stream does not exist yet.
func streamMessages(t *testing.T, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	if _, err := js.Stream(t.Context(), stream); err != nil {
		return nil
	}
	return eventstest.Messages(t, js, stream)
}
