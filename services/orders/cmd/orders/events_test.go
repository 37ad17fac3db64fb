package main_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"mercato.dev/ent/dbtest"
	notificationsmigrate "mercato.dev/ent/notifications/migrate"
	ordersmigrate "mercato.dev/ent/orders/migrate"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// The events scenarios: orders (and payments) write their events through the outbox, the relay
// publishes them to the platform's broker (mTLS, per-identity permissions), run by the test (stopped and restarted on the same
// store and port at will), and the real notifications binary consumes the ORDERS stream into
// its PostgreSQL database, which the test reads. Each test has its own broker, so the fixed
// stream names (ORDERS, PAYMENTS, DLQ) never collide.

const notificationsPkg = "mercato.dev/services/notifications/cmd/notifications"

// broker is the platform's broker (mTLS, per-identity permissions) that the test stops and
// starts again, on the same store and port, so that the services' connections find it again.
type broker struct{ *eventstest.Broker }

func (b broker) url() string { return b.URL() }
func (b broker) stop()       { b.Shutdown() }
func (b broker) start()      { b.Restart() }

// eventsPlatform is the platform plus its broker and the notifications service.
type eventsPlatform struct {
	*platform
	broker          broker
	notifications   *kittest.Process
	notificationsDB *sql.DB
	nc              *nats.Conn          // the test's own connection to the broker
	js              jetstream.JetStream // and its JetStream context
}

func startEventsPlatform(t *testing.T, s setup) *eventsPlatform {
	t.Helper()
	p := &eventsPlatform{platform: startPlatform(t, s)}
	b := broker{p.platform.broker}
	p.broker = b
	url := dbtest.Postgres(t)
	if s.notificationsBin == "" {
		s.notificationsBin = kittest.Build(t, notificationsPkg)
	}
	env := map[string]string{"NOTIFICATIONS_DATABASE_URL": url, "NATS_URL": b.url(), "NOTIFICATIONS_ACK_WAIT": "2s", "LOG_LEVEL": "info"}
	for k, v := range s.notificationsEnv {
		env[k] = v
	}
	p.notifications = p.env.StartService(t, "notifications", s.notificationsBin, env)
	p.notificationsDB = dbtest.Open(t, url, notificationsmigrate.Migrations).SQL()
	p.nc, p.js = b.Inspect(t)
	return p
}

// reconnected waits until the test's own connection is back after the broker restarted: the
// services may drain before it has reconnected, and a request made while it reconnects fails
// (it buffers nothing).
func (p *eventsPlatform) reconnected() {
	p.t.Helper()
	for start := time.Now(); !p.nc.IsConnected(); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			p.t.Fatalf("the test's broker connection is still %s 10 s after the restart", p.nc.Status())
		}
	}
}

// notified counts the notifications recorded, and the distinct orders they are about.
func (p *eventsPlatform) notified() (total, orders int) {
	p.t.Helper()
	err := p.notificationsDB.QueryRowContext(p.t.Context(), `SELECT COUNT(*), COUNT(DISTINCT order_id) FROM notifications`).Scan(&total, &orders)
	if err != nil {
		p.t.Fatalf("count notifications: %v", err)
	}
	return total, orders
}

// awaitNotified waits until want notifications are recorded, at most within, and returns how
// long that took; it fails if more are recorded or if some order has two.
func (p *eventsPlatform) awaitNotified(want int, within time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	for {
		total, orders := p.notified()
		if total > want || orders != total {
			p.t.Fatalf("%d notifications about %d orders, want %d, one per order", total, orders, want)
		}
		if total == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			p.t.Fatalf("%d of %d notifications after %s\nnotifications logs:\n%s", total, want, within, p.notifications.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordTimes returns when each order's notification was recorded, by order ID.
func (p *eventsPlatform) recordTimes() map[string]time.Time {
	p.t.Helper()
	rows, err := p.notificationsDB.QueryContext(p.t.Context(), `SELECT order_id, create_time FROM notifications`)
	if err != nil {
		p.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			id string
			at time.Time
		)
		if err := rows.Scan(&id, &at); err != nil {
			p.t.Fatal(err)
		}
		out[id] = at
	}
	if err := rows.Err(); err != nil {
		p.t.Fatal(err)
	}
	return out
}

// placeConfirmed places n orders of one unit, concurrency at a time, and fails unless every one
// is confirmed.
func (p *eventsPlatform) placeConfirmed(customer claims.Claims, product string, n, concurrency int) []*ordersv1.Order {
	p.t.Helper()
	c := p.ordersAs(customer)
	out := make([]*ordersv1.Order, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			o, err := create(p.t, c, createRequest(customer, product, 1, "pm_card_visa"), 30*time.Second)
			if err != nil || o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
				p.t.Errorf("order %d: %s, %v", i, describe(o), err)
			}
			out[i] = o
		})
	}
	wg.Wait()
	if p.t.Failed() {
		p.t.FailNow()
	}
	return out
}

// streamCount is the number of messages the stream holds.
func (p *eventsPlatform) streamCount(stream string) int { return eventstest.Count(p.t, p.js, stream) }

// TestEventsAcrossRotations: with every SVID (services', broker's, the test's) living 4 s and a
// CA rotation of the issuer a third of the way in, orders placed one after another for 24 s each
// get exactly one notification: orders' relay and notifications' consumer retire their broker
// connections before the SVIDs they were made with expire and reconnect with new ones, losing
// and doubling nothing.
func TestEventsAcrossRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("24 s rotation scenario; runs in the full suite")
	}
	const (
		ttl      = 4 * time.Second
		duration = 24 * time.Second
	)
	p := startEventsPlatform(t, setup{svidTTL: ttl, ordersEnv: map[string]string{"LOG_LEVEL": "info"}}) // logs each retirement
	customer := p.customer()
	product := p.product(10000)
	rotate := time.AfterFunc(duration/3, func() {
		if err := p.env.Issuer.RotateCA(); err != nil {
			t.Errorf("rotate CA: %v", err)
		}
	})
	defer rotate.Stop()
	placed := 0
	for start := time.Now(); time.Since(start) < duration; placed++ {
		p.placeConfirmed(customer, product, 1, 1)
		time.Sleep(100 * time.Millisecond)
	}
	took := p.awaitNotified(placed, time.Minute)
	if n := p.streamCount("ORDERS"); n != placed {
		t.Errorf("ORDERS holds %d events for %d orders", n, placed)
	}
	retiredOrders := strings.Count(p.orders.Logs(), "nats connection retired")
	retiredNotifications := strings.Count(p.notifications.Logs(), "nats connection retired")
	t.Logf("%d orders → %d notifications (the last %s after the last order); broker connections retired: orders %d, notifications %d",
		placed, placed, took.Round(time.Millisecond), retiredOrders, retiredNotifications)
	if retiredOrders < 3 || retiredNotifications < 3 {
		t.Errorf("broker connections retired: orders %d, notifications %d in %s with a %s TTL; want ≥ 3 each", retiredOrders, retiredNotifications, duration, ttl)
	}
}

// TestBrokerOutage: with the broker stopped, orders keeps accepting and confirming orders (the
// outbox holds their events) and stays ready, while notifications reports not ready; once the
// broker is back on the same store and port, every event is published and notified once.
func TestBrokerOutage(t *testing.T) {
	const orders = 100
	p := startEventsPlatform(t, setup{})
	customer := p.customer()
	product := p.product(orders)

	p.broker.stop()
	start := time.Now()
	placed := p.placeConfirmed(customer, product, orders, 8)
	t.Logf("%d orders confirmed in %s with the broker down", orders, time.Since(start).Round(time.Millisecond))
	if code, body := get(t, p.orders.AdminAddr, "/readyz"); code != http.StatusOK {
		t.Errorf("orders not ready while the broker is down (%d): %s", code, body)
	}
	if code, body := get(t, p.notifications.AdminAddr, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"nats"`) {
		t.Errorf("notifications readiness with the broker down: %d %s; want 503 on its nats check", code, body)
	}
	if total, _ := p.notified(); total != 0 {
		t.Fatalf("%d notifications recorded with the broker down", total)
	}

	p.broker.start()
	drain := p.awaitNotified(orders, 60*time.Second)
	times := p.recordTimes()
	first, last := minMax(times)
	t.Logf("broker back: %d events drained in %s (first to last notification %s: %.0f events/s)",
		orders, drain.Round(time.Millisecond), last.Sub(first).Round(time.Millisecond), float64(orders-1)/last.Sub(first).Seconds())
	for _, o := range placed {
		if _, ok := times[o.GetOrderId()]; !ok {
			t.Errorf("order %s has no notification", o.GetOrderId())
		}
	}
	p.reconnected()
	if n := p.streamCount("ORDERS"); n != orders {
		t.Errorf("ORDERS holds %d events, want %d: each published once", n, orders)
	}
	for start := time.Now(); p.streamCount("PAYMENTS") < orders && time.Since(start) < 20*time.Second; { // its own relay
		time.Sleep(50 * time.Millisecond)
	}
	if n := p.streamCount("PAYMENTS"); n != orders {
		t.Errorf("PAYMENTS holds %d events, want %d authorizations", n, orders)
	}
}

// TestConsumerCrash: notifications dies (SIGKILL) in the middle of a backlog of order events.
// Built with fault injection, it holds each event 25 ms between recording its notification and
// acknowledging it, so the kill most likely lands between the two. Restarted, it records every
// event exactly once: the events delivered but not acknowledged come back after the ack wait
// (2 s here), and those already recorded are recognized by their event ID.
func TestConsumerCrash(t *testing.T) {
	const orders, killAt = 50, 10
	p := startEventsPlatform(t, setup{
		notificationsBin: kittest.Build(t, notificationsPkg, "faultinject"),
		notificationsEnv: map[string]string{"NOTIFICATIONS_FAULT": "slow-ack"},
	})
	customer := p.customer()
	product := p.product(orders)

	placing := make(chan []*ordersv1.Order)
	go func() { placing <- p.placeConfirmed(customer, product, orders, 8) }()
	deadline := time.Now().Add(30 * time.Second)
	for total, _ := p.notified(); total < killAt; total, _ = p.notified() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d notifications after 30s", total)
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.notifications.Kill()
	atKill, _ := p.notified()
	placed := <-placing
	if atKill >= orders {
		t.Fatalf("every order was notified before the kill: nothing to test")
	}
	p.notifications.Restart()
	took := p.awaitNotified(orders, 30*time.Second)
	time.Sleep(2500 * time.Millisecond) // past the ack wait: every redelivery has happened
	p.awaitNotified(orders, 0)
	handled := metric(t, p.notifications.AdminAddr, `events_handled_total{consumer="notifications",stream="ORDERS"}`)
	t.Logf("killed at %d of %d notifications; restarted, the other %d recorded in %s; the new process handled %.0f events, %.0f of them redelivered and already recorded",
		atKill, orders, orders-atKill, took.Round(time.Millisecond), handled, handled-float64(orders-atKill))
	times := p.recordTimes()
	for _, o := range placed {
		if _, ok := times[o.GetOrderId()]; !ok {
			t.Errorf("order %s has no notification", o.GetOrderId())
		}
	}
}

// TestRelayCrash: an orders process built with fault injection dies (SIGKILL) after the relay
// published an event and before it marked it sent. Restarted on the same database, the relay
// takes the event over once its lease expired and publishes it again: JetStream recognizes
// the duplicate by its Nats-Msg-Id, the row ends sent, and there is exactly one notification.
func TestRelayCrash(t *testing.T) {
	db := dbtest.SQLite(t)
	bin := kittest.Build(t, ordersPkg, "faultinject")
	p := startEventsPlatform(t, setup{ordersDB: db, ordersBin: bin, ordersEnv: map[string]string{
		"OUTBOX_FAULT": "kill-after-publish", "ORDERS_OUTBOX_LEASE": "2s",
	}})
	customer := p.customer()
	req := createRequest(customer, p.product(1), 1, "pm_card_visa")
	_, _ = create(t, p.ordersAs(customer), req, 10*time.Second) // may die before answering
	select {
	case <-p.orders.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("orders did not die after publishing")
	}
	// The database is read between the processes: a SQLite database is held by one process at
	// a time.
	outbox := dbtest.Open(t, db, ordersmigrate.Migrations)
	if status, attempts := outboxRow(t, outbox.SQL()); status != "claimed" || attempts != 1 {
		t.Fatalf("outbox row after the crash: %s, %d attempts; want claimed, 1", status, attempts)
	}
	if err := outbox.Close(); err != nil {
		t.Fatal(err)
	}

	restarted := p.startOrders(bin, map[string]string{"ORDERS_DATABASE_URL": db, "ORDERS_OUTBOX_LEASE": "2s"})
	start := time.Now()
	for metric(t, restarted.AdminAddr, "outbox_publish_duplicates_total") == 0 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no republish within 20 s of the restart\n%s", restarted.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	dups := metric(t, restarted.AdminAddr, "outbox_publish_duplicates_total")
	// A relay that has published settles its batch before the process exits.
	restarted.Stop()
	status, attempts := outboxRow(t, dbtest.Open(t, db, ordersmigrate.Migrations).SQL())
	t.Logf("republished %s after the restart (attempt %d, row %s); JetStream duplicates acknowledged: %.0f", took.Round(time.Millisecond), attempts, status, dups)
	if status != "sent" || attempts != 2 || dups != 1 {
		t.Errorf("row %s after %d attempts, duplicate acks %.0f; want it sent after publishing again, as a duplicate", status, attempts, dups)
	}
	p.awaitNotified(1, 10*time.Second)
	msgs := eventstest.Messages(t, p.js, "ORDERS")
	if len(msgs) != 1 {
		t.Fatalf("ORDERS holds %d events, want 1", len(msgs))
	}
	var ev ordersv1.OrderConfirmed
	if err := proto.Unmarshal(msgs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	// The event carries the trace of the CreateOrder call that confirmed the order.
	if tp := msgs[0].Header.Get("traceparent"); tp == "" || ev.GetTraceContext()["traceparent"] != tp ||
		msgs[0].Header.Get(jetstream.MsgIDHeader) != ev.GetEventId() || ev.GetCustomerId() != customer.Subject {
		t.Errorf("event headers %v, payload %v", msgs[0].Header, &ev)
	}
}

// TestPoisonMessage: an order event that cannot be decoded is dead-lettered at once, with the
// reason in its headers, and the events behind it keep flowing: a confirmed, a declined and a
// canceled order each get their notification, which the customer reads through the API.
func TestPoisonMessage(t *testing.T) {
	p := startEventsPlatform(t, setup{})
	id := uuid.NewString()
	msg := nats.NewMsg(events.OrderConfirmed)
	msg.Data = []byte("this is not a protobuf message")
	if _, err := p.js.PublishMsg(t.Context(), msg, jetstream.WithMsgID(id)); err != nil {
		t.Fatal(err)
	}
	dlq := awaitDeadLetter(t, p.js, events.DeadLetterPrefix+events.OrderConfirmed, 10*time.Second)
	reason := dlq.Header.Get(events.HeaderDLQReason)
	t.Logf("dead letter on %s: %s", dlq.Subject, reason)
	if !strings.Contains(reason, "decode") || dlq.Header.Get(events.HeaderEventID) != id ||
		dlq.Header.Get(events.HeaderDLQConsumer) != "notifications" || string(dlq.Data) != string(msg.Data) {
		t.Errorf("dead letter headers %v", dlq.Header)
	}

	customer := p.customer()
	c := p.ordersAs(customer)
	product := p.product(2)
	confirmed := p.placeConfirmed(customer, product, 1, 1)[0]
	declined, err := create(t, c, createRequest(customer, product, 1, "pm_card_declined"), 10*time.Second)
	if err != nil || declined.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_REJECTED {
		t.Fatalf("declined order: %s, %v", describe(declined), err)
	}
	if res, err := c.CancelOrder(t.Context(), &ordersv1.CancelOrderRequest{OrderId: confirmed.GetOrderId()}); err != nil ||
		res.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CANCELED {
		t.Fatalf("cancel: %v, %v", res.GetOrder(), err)
	}
	got := p.notificationsOf(customer, 3)
	want := []struct{ order, subject, body string }{ // newest first
		{confirmed.GetOrderId(), "is canceled", "is canceled and its payment released"},
		{declined.GetOrderId(), "could not be placed", "because the payment was declined"},
		{confirmed.GetOrderId(), "is confirmed", "1 item, total 10.00 EUR"},
	}
	for i, w := range want {
		if n := got[i]; n.GetOrderId() != w.order || !strings.HasSuffix(n.GetSubject(), w.subject) || !strings.Contains(n.GetBody(), w.body) {
			t.Errorf("notification %d: %s %q %q; want %s …%s, …%s…", i, n.GetOrderId(), n.GetSubject(), n.GetBody(), w.order, w.subject, w.body)
		}
	}
}

// notificationsOf lists the customer's notifications through the API, as the edge forwarding
// the customer's claims, until there are n (newest first).
func (p *eventsPlatform) notificationsOf(customer claims.Claims, n int) []*notificationsv1.Notification {
	p.t.Helper()
	c := notificationsv1connect.NewNotificationServiceClient(p.env.HTTPClient(p.t, identity.Edge, identity.Service("notifications")),
		"https://"+p.notifications.Addr, connect.WithInterceptors(withClaims(customer)))
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := c.ListNotifications(p.t.Context(), &notificationsv1.ListNotificationsRequest{CustomerId: customer.Subject})
		if err != nil {
			p.t.Fatal(err)
		}
		if got := res.GetNotifications(); len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				p.t.Fatalf("%d notifications, want %d", len(got), n)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEventLag measures the end-to-end lag from an order's confirmation (its update time, set
// in the transaction that writes the event) to its notification being recorded, over 200
// orders placed 4 at a time after 20 to warm up (connections, the consumer's first pull), with
// the orders database on SQLite and on PostgreSQL.
func TestEventLag(t *testing.T) {
	const orders, warmUp = 200, 20
	dbtest.Each(t, func(t *testing.T, url string) {
		p := startEventsPlatform(t, setup{ordersDB: url})
		customer := p.customer()
		product := p.product(orders + warmUp)
		p.placeConfirmed(customer, product, warmUp, 4)
		p.awaitNotified(warmUp, 10*time.Second)
		start := time.Now()
		placed := p.placeConfirmed(customer, product, orders, 4)
		placing := time.Since(start)
		p.awaitNotified(warmUp+orders, 30*time.Second)
		times := p.recordTimes()
		lags := make([]time.Duration, 0, orders)
		for _, o := range placed {
			lags = append(lags, times[o.GetOrderId()].Sub(o.GetUpdateTime().AsTime()))
		}
		slices.Sort(lags)
		t.Logf("%d orders in %s (%.0f orders/s); confirmation → notification lag p50 %s, p99 %s, max %s",
			orders, placing.Round(time.Millisecond), orders/placing.Seconds(), lags[orders/2].Round(100*time.Microsecond),
			lags[orders*99/100].Round(100*time.Microsecond), lags[orders-1].Round(100*time.Microsecond))
		if lags[0] < 0 {
			t.Errorf("a notification recorded %s before its order was confirmed", -lags[0])
		}
	})
}

// TestOutageBacklogDrain is the 30-second outage at a steady 5 orders/s: 150 events wait in
// the outbox, then drain. It takes about 45 s, so it runs only with MERCATO_SOAK=1.
func TestOutageBacklogDrain(t *testing.T) {
	if testing.Short() || os.Getenv("MERCATO_SOAK") != "1" {
		t.Skip("a 30 s outage: run with MERCATO_SOAK=1 (and without -short)")
	}
	const rate, outage = 5, 30 * time.Second
	p := startEventsPlatform(t, setup{})
	customer := p.customer()
	product := p.product(1000)
	p.broker.stop()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	var wg sync.WaitGroup
	n := 0
	for start := time.Now(); time.Since(start) < outage; n++ {
		<-tick.C
		wg.Go(func() { p.placeConfirmed(customer, product, 1, 1) })
	}
	wg.Wait()
	p.broker.start()
	drain := p.awaitNotified(n, 120*time.Second)
	first, last := minMax(p.recordTimes())
	t.Logf("%d orders during a %s outage (%d/s): backlog drained in %s after the broker came back (first to last notification %s)",
		n, outage, rate, drain.Round(time.Millisecond), last.Sub(first).Round(time.Millisecond))
}

// outboxRow is the status and attempts of the single row of the orders outbox.
func outboxRow(t *testing.T, db *sql.DB) (status string, attempts int) {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*), MIN(status), MIN(attempts) FROM outbox_events`).Scan(&n, &status, &attempts); err != nil {
		t.Fatalf("outbox: %v", err)
	}
	if n != 1 {
		t.Fatalf("%d outbox rows, want 1", n)
	}
	return status, attempts
}

// awaitDeadLetter returns the first message stored on subject in the DLQ stream.
func awaitDeadLetter(t *testing.T, js jetstream.JetStream, subject string, within time.Duration) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	s, err := js.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, err := s.GetLastMsgForSubject(ctx, subject)
		if err == nil {
			return m
		}
		if ctx.Err() != nil {
			t.Fatalf("nothing dead-lettered on %s after %s: %v", subject, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches an admin endpoint.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// metric reads one sample of the process's Prometheus metrics; 0 when absent.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	_, body := get(t, addr, "/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("metric %s: %v", name, err)
	}
	return v
}

func minMax(times map[string]time.Time) (first, last time.Time) {
	for _, at := range times {
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	return first, last
}
