package main_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/proto"

	"mercato.dev/ent/dbtest"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/busauthz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/outbox"
)

// TestBinaryConsumesOrderEvents: the binary consumes the ORDERS stream of its broker (NATS_URL)
// and records one notification per event, which its customer reads through the API; an event
// published again under the same ID is not recorded twice; with the broker down the service
// is not ready (its "nats" check), and it catches up once the broker is back.
func TestBinaryConsumesOrderEvents(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.Edge})
	broker := eventstest.StartBroker(t, env, "", 0)
	p := env.StartService(t, "notifications", kittest.Build(t, "mercato.dev/services/notifications/cmd/notifications"), map[string]string{
		"NOTIFICATIONS_DATABASE_URL": dbtest.SQLite(t), "NATS_URL": broker.URL(),
	})
	js := asOrders(t, broker)
	customer := uuid.New()
	publish := func(js jetstream.JetStream, ev outbox.Event) {
		t.Helper()
		msg := nats.NewMsg(ev.Subject)
		msg.Data = ev.Payload
		for k, v := range ev.Headers {
			msg.Header.Set(k, v)
		}
		if _, err := js.PublishMsg(t.Context(), msg, jetstream.WithMsgID(ev.ID)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	confirmed := orderEvent(t, events.OrderConfirmed, &ordersv1.OrderConfirmed{
		OrderId: uuid.NewString(), CustomerId: customer.String(), PaymentId: uuid.NewString(),
		Items: []*ordersv1.OrderItem{{ProductId: uuid.NewString(), Quantity: 2}},
		Total: &moneyv1.Money{AmountMinor: 3998, Currency: "EUR"},
	})
	publish(js, confirmed)
	publish(js, confirmed) // dropped by the stream as a duplicate, or by the consumer
	got := awaitNotifications(t, env, p, customer, 1)
	if got[0].GetEventId() != confirmed.ID || !strings.HasSuffix(got[0].GetSubject(), "is confirmed") || !strings.Contains(got[0].GetBody(), "total 39.98 EUR") {
		t.Errorf("notification %v", got[0])
	}

	broker.Shutdown()
	// The client notices the closed connection asynchronously: wait for readiness to turn.
	down := time.Now()
	for {
		code, body := readyz(t, p.AdminAddr)
		if code == http.StatusServiceUnavailable && strings.Contains(body, `"nats"`) {
			t.Logf("not ready %s after the broker stopped", time.Since(down).Round(time.Millisecond))
			break
		}
		if time.Since(down) > 10*time.Second {
			t.Fatalf("readiness 10s after the broker stopped: %d %s; want 503 on the nats check", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	broker.Restart()
	for start := time.Now(); !js.Conn().IsConnected(); time.Sleep(10 * time.Millisecond) { // the test's own connection too
		if time.Since(start) > 10*time.Second {
			t.Fatal("the test's connection did not come back within 10s of the restart")
		}
	}
	publish(js, orderEvent(t, events.OrderRejected, &ordersv1.OrderRejected{
		OrderId: uuid.NewString(), CustomerId: customer.String(), Reason: ordersv1.RejectReason_REJECT_REASON_OUT_OF_STOCK,
		Items: []*ordersv1.OrderItem{{ProductId: uuid.NewString(), Quantity: 1}},
	}))
	got = awaitNotifications(t, env, p, customer, 2)
	if !strings.Contains(got[0].GetSubject(), "could not be placed") {
		t.Errorf("newest notification %v", got[0])
	}
	if code, body := readyz(t, p.AdminAddr); code != http.StatusOK {
		t.Errorf("readiness with the broker back: %d %s", code, body)
	}
}

// TestForgedOrderEventsNeverNotify: the attack of the issue, on the binary. Every identity but
// orders (payments, customers, inventory, notifications itself) tries to publish an
// OrderRejected whose text would phish the customer, and to push a fake delivery straight into
// the notifications consumer's inbox; the broker refuses each, and the customer's only
// notification is the one of orders' genuine event, published afterwards.
func TestForgedOrderEventsNeverNotify(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.Edge})
	broker := eventstest.StartBroker(t, env, "", 0)
	p := env.StartService(t, "notifications", kittest.Build(t, "mercato.dev/services/notifications/cmd/notifications"), map[string]string{
		"NOTIFICATIONS_DATABASE_URL": dbtest.SQLite(t), "NATS_URL": broker.URL(),
	})
	orders := asOrders(t, broker)
	customer := uuid.New()
	forged := orderEvent(t, events.OrderRejected, &ordersv1.OrderRejected{
		OrderId: uuid.NewString(), CustomerId: customer.String(), Reason: ordersv1.RejectReason_REJECT_REASON_PAYMENT_DECLINED,
		Items:   []*ordersv1.OrderItem{{ProductId: uuid.NewString(), Quantity: 1}},
		Message: "your card was blocked, re-enter it at https://evil.example/card",
	})
	for _, name := range []string{"payments", "customers", "inventory", "notifications"} {
		nc, js := broker.Connect(t, identity.Service(name))
		msg := nats.NewMsg(forged.Subject)
		msg.Data = forged.Payload
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(forged.ID))
		cancel()
		if err == nil {
			t.Fatalf("%s published an order event", name)
		}
		waitLastError(t, nc, `Publish to "`+forged.Subject+`"`)
		t.Logf("%s: %v", name, nc.LastError())
		// A fake JetStream delivery, acked on the consumer's behalf, into notifications' inbox.
		fake := &nats.Msg{Subject: busauthz.InboxPrefix(identity.Service("notifications")) + ".x", Reply: "$JS.ACK.ORDERS.notifications.1.1.1.1700000000000000000.0", Data: forged.Payload}
		if name != "notifications" {
			_ = nc.PublishMsg(fake)
			waitLastError(t, nc, `Publish to "`+fake.Subject+`"`)
			t.Logf("%s: %v", name, nc.LastError())
		}
	}
	genuine := orderEvent(t, events.OrderConfirmed, &ordersv1.OrderConfirmed{
		OrderId: uuid.NewString(), CustomerId: customer.String(), PaymentId: uuid.NewString(),
		Items: []*ordersv1.OrderItem{{ProductId: uuid.NewString(), Quantity: 1}}, Total: &moneyv1.Money{AmountMinor: 100, Currency: "EUR"},
	})
	msg := nats.NewMsg(genuine.Subject)
	msg.Data = genuine.Payload
	if _, err := orders.PublishMsg(t.Context(), msg, jetstream.WithMsgID(genuine.ID)); err != nil {
		t.Fatal(err)
	}
	got := awaitNotifications(t, env, p, customer, 1) // fails if there are more
	if got[0].GetEventId() != genuine.ID {
		t.Fatalf("the customer's notification is of event %s, want orders' genuine %s", got[0].GetEventId(), genuine.ID)
	}
	_, inspect := broker.Inspect(t)
	if n := eventstest.Count(t, inspect, "ORDERS"); n != 1 {
		t.Errorf("ORDERS holds %d events, want orders' one", n)
	}
}

// asOrders connects to the broker as orders and creates the streams orders owns, as its relay
// does (notifications creates only the dead-letter stream).
func asOrders(t *testing.T, broker *eventstest.Broker) jetstream.JetStream {
	t.Helper()
	_, js := broker.Connect(t, identity.Service("orders"))
	if err := events.EnsureStreams(t.Context(), js, events.StreamsOf(identity.Service("orders"))...); err != nil {
		t.Fatal(err)
	}
	return js
}

// waitLastError waits up to 10 s for the broker's asynchronous permissions violation on nc,
// for want (such as `Publish to "subject"`).
func waitLastError(t *testing.T, nc *nats.Conn, want string) {
	t.Helper()
	start := time.Now()
	for {
		if err := nc.LastError(); err != nil && strings.Contains(err.Error(), "Permissions Violation for "+want) {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("last error %v after %s, want %q", nc.LastError(), time.Since(start).Round(time.Millisecond), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// orderEvent builds the outbox event of msg, as orders does.
func orderEvent(t *testing.T, subject string, msg proto.Message) outbox.Event {
	t.Helper()
	ev, err := outbox.New(t.Context(), subject, msg)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// awaitNotifications lists the customer's notifications as the edge until there are n.
func awaitNotifications(t *testing.T, env *kittest.Env, p *kittest.Process, customer uuid.UUID, n int) []*notificationsv1.Notification {
	t.Helper()
	c := notificationsv1connect.NewNotificationServiceClient(env.HTTPClient(t, identity.Edge, identity.Service("notifications")), "https://"+p.Addr)
	ctx, info := connect.NewClientContext(t.Context())
	info.RequestHeader().Set(claims.Header, claims.Encode(claims.Claims{Subject: customer.String(), Roles: []string{claims.RoleCustomer}}))
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.ListNotifications(ctx, &notificationsv1.ListNotificationsRequest{CustomerId: customer.String()})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.GetNotifications(); len(got) >= n {
			if len(got) > n {
				t.Fatalf("%d notifications, want %d", len(got), n)
			}
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications after 20s, want %d\n%s", len(res.GetNotifications()), n, p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readyz is the status and body of the process's readiness endpoint.
func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}
