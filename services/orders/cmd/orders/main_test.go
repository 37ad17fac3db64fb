package main_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"mercato.dev/ent/dbtest"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/services/kit/kittest"
)

// TestNoOversell: 200 concurrent orders of one unit for a product with 50 — exactly 50 are
// confirmed and stock ends at 0, never below; every other order is rejected out of stock. On
// SQLite and on PostgreSQL (the orders and inventory databases).
func TestNoOversell(t *testing.T) {
	const orders, stock = 200, 50
	dbtest.Each(t, func(t *testing.T, url string) {
		s := setup{}
		if strings.HasPrefix(url, "postgres") {
			s.ordersDB, s.inventoryDB = url, dbtest.Postgres(t)
		} else {
			s.ordersDB, s.inventoryDB = url, dbtest.SQLite(t)
		}
		p := startPlatform(t, s)
		customer := p.customer()
		product := p.product(stock)
		c := p.ordersAs(customer)

		got := make([]*ordersv1.Order, orders)
		took := make([]time.Duration, orders)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range orders {
			wg.Go(func() {
				t0 := time.Now()
				o, err := create(t, c, createRequest(customer, product, 1, "pm_card_visa"), 60*time.Second)
				took[i] = time.Since(t0)
				if err != nil {
					t.Errorf("order %d: %v", i, err)
				}
				got[i] = o
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if t.Failed() {
			t.FailNow()
		}

		counts := map[string]int{}
		for _, o := range got {
			key := o.GetStatus().String()
			if o.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_REJECTED {
				key += " " + o.GetRejectReason().String()
			}
			counts[key]++
		}
		want := map[string]int{"ORDER_STATUS_CONFIRMED": stock, "ORDER_STATUS_REJECTED REJECT_REASON_OUT_OF_STOCK": orders - stock}
		if len(counts) != len(want) || counts["ORDER_STATUS_CONFIRMED"] != stock || counts["ORDER_STATUS_REJECTED REJECT_REASON_OUT_OF_STOCK"] != orders-stock {
			t.Errorf("outcomes %v, want %v", counts, want)
		}
		if left := p.available(product); left != 0 {
			t.Errorf("stock left %d, want 0", left)
		}
		slices.Sort(took)
		t.Logf("%d orders in %s: %.0f orders/s, latency p50 %s p99 %s",
			orders, elapsed.Round(time.Millisecond), float64(orders)/elapsed.Seconds(),
			took[orders/2].Round(time.Millisecond), took[orders*99/100].Round(time.Millisecond))
	})
}

// TestScenarios runs the saga's paths against the real services, on SQLite.
func TestScenarios(t *testing.T) {
	p := startPlatform(t, setup{ordersEnv: map[string]string{"ORDERS_RETRY_MAX": "1s", "ORDERS_MAX_ATTEMPTS": "100"}})
	customer := p.customer()
	c := p.ordersAs(customer)

	t.Run("idempotency: 20 identical calls at once place one order", func(t *testing.T) {
		product := p.product(10)
		req := createRequest(customer, product, 3, "pm_card_visa")
		got := make([]*ordersv1.Order, 20)
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				o, err := create(t, c, req, 10*time.Second)
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
				got[i] = o
			})
		}
		wg.Wait()
		for _, o := range got {
			if o.GetOrderId() != got[0].GetOrderId() || o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
				t.Fatalf("got %s, want every call to answer %s", describe(o), describe(got[0]))
			}
		}
		if left := p.available(product); left != 7 {
			t.Errorf("stock %d after one order of 3 from 10: reserved more than once", left)
		}
		pay := p.payment(got[0].GetOrderId())
		if pay.GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED || pay.GetPaymentId() != got[0].GetPaymentId() ||
			pay.GetAmount().GetAmountMinor() != 3000 {
			t.Errorf("payment %v, order's payment %s", pay, got[0].GetPaymentId())
		}
		list, err := c.ListOrders(t.Context(), &ordersv1.ListOrdersRequest{CustomerId: customer.Subject, PageSize: 100})
		if err != nil || len(list.GetOrders()) != 1 {
			t.Errorf("customer has %d orders, %v; want 1", len(list.GetOrders()), err)
		}
	})

	t.Run("same key with another body is refused, first order untouched", func(t *testing.T) {
		product := p.product(10)
		req := createRequest(customer, product, 1, "pm_card_visa")
		first, err := create(t, c, req, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		req.Items[0].Quantity = 2
		if _, err := create(t, c, req, 10*time.Second); connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("got %v, want failed_precondition", err)
		}
		after, err := c.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: first.GetOrderId()})
		if err != nil || after.GetOrder().GetStatus() != first.GetStatus() || after.GetOrder().GetItems()[0].GetQuantity() != 1 || p.available(product) != 9 {
			t.Errorf("first order after the refusal: %v, %v; stock %d", after.GetOrder(), err, p.available(product))
		}
	})

	t.Run("compensation: a declined payment releases the stock", func(t *testing.T) {
		product := p.product(10)
		o, err := create(t, c, createRequest(customer, product, 4, "pm_card_declined"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_REJECTED || o.GetRejectReason() != ordersv1.RejectReason_REJECT_REASON_PAYMENT_DECLINED {
			t.Errorf("got %s", describe(o))
		}
		if left := p.available(product); left != 10 {
			t.Errorf("stock %d after the compensation, want 10", left)
		}
		if pay := p.payment(o.GetOrderId()); pay.GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED {
			t.Errorf("payment %v", pay)
		}
	})

	t.Run("cancel: a confirmed order voids its payment and releases its stock", func(t *testing.T) {
		product := p.product(10)
		o, err := create(t, c, createRequest(customer, product, 2, "pm_card_visa"), 10*time.Second)
		if err != nil || o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
			t.Fatalf("got %s, %v", describe(o), err)
		}
		res, err := c.CancelOrder(t.Context(), &ordersv1.CancelOrderRequest{OrderId: o.GetOrderId(), Reason: "test"})
		if err != nil || res.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CANCELED {
			t.Fatalf("cancel: %v, %v", res.GetOrder(), err)
		}
		if left, pay := p.available(product), p.payment(o.GetOrderId()); left != 10 || pay.GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_VOIDED {
			t.Errorf("after cancel: stock %d, payment %s", left, pay.GetStatus())
		}
	})

	t.Run("another customer's order is answered as missing", func(t *testing.T) {
		o, err := create(t, c, createRequest(customer, p.product(1), 1, "pm_card_visa"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		other := p.ordersAs(p.customer())
		_, missing := other.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: uuid.NewString()})
		for name, call := range map[string]func() error{
			"GetOrder": func() error {
				_, err := other.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: o.GetOrderId()})
				return err
			},
			"CancelOrder": func() error {
				_, err := other.CancelOrder(t.Context(), &ordersv1.CancelOrderRequest{OrderId: o.GetOrderId()})
				return err
			},
		} {
			if err := call(); connect.CodeOf(err) != connect.CodeNotFound || err.Error() != missing.Error() {
				t.Errorf("%s of another's order: %v, want %v as for a missing order", name, err, missing)
			}
		}
		if _, err := other.CreateOrder(t.Context(), createRequest(customer, p.product(1), 1, "pm_card_visa")); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("CreateOrder in another's name: %v", err)
		}
	})

	// Last: it stops payments.
	t.Run("payments down: CreateOrder answers PENDING within its deadline, then confirms", func(t *testing.T) {
		product := p.product(10)
		p.payments.Kill()
		const deadline = 2 * time.Second
		start := time.Now()
		o, err := create(t, c, createRequest(customer, product, 1, "pm_card_visa"), deadline)
		took := time.Since(start)
		t.Logf("CreateOrder with payments down answered %s in %s (deadline %s)", o.GetStatus(), took.Round(time.Millisecond), deadline)
		if err != nil || o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING {
			t.Fatalf("got %s, %v; want PENDING", describe(o), err)
		}
		if took > deadline {
			t.Errorf("answered after %s, beyond its %s deadline", took, deadline)
		}
		p.payments.Restart()
		start = time.Now()
		final := settle(t, c, o.GetOrderId(), 20*time.Second)
		t.Logf("order %s %s %s after payments came back", final.GetStatus(), final.GetRejectReason(), time.Since(start).Round(time.Millisecond))
		if final.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED || p.available(product) != 9 {
			t.Errorf("got %s, stock %d", describe(final), p.available(product))
		}
	})
}

// TestCrashInTheMiddle: an orders process built with fault injection dies (SIGKILL) right after
// persisting the reservation. Another orders process on the same database takes the saga over
// once the lease expired, and completes it: confirmed, 3 units held, payment authorized.
func TestCrashInTheMiddle(t *testing.T) {
	db := dbtest.SQLite(t)
	bin := kittest.Build(t, ordersPkg, "faultinject")
	p := startPlatform(t, setup{ordersDB: db, ordersBin: bin, ordersEnv: map[string]string{
		"ORDERS_FAULT": "kill-after-reserve", "ORDERS_LEASE_TTL": "1s",
	}})
	customer := p.customer()
	product := p.product(10)
	req := createRequest(customer, product, 3, "pm_card_visa")
	if o, err := create(t, p.ordersAs(customer), req, 10*time.Second); err == nil {
		t.Fatalf("CreateOrder survived the fault: %s", describe(o))
	}
	select {
	case <-p.orders.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("orders did not die")
	}
	if left := p.available(product); left != 7 {
		t.Fatalf("stock %d after the crash, want 7 (reserved, not authorized)", left)
	}

	restarted := p.startOrders(bin, map[string]string{"ORDERS_DATABASE_URL": db, "ORDERS_LEASE_TTL": "1s"})
	start := time.Now()
	c := p.ordersAt(restarted, customer)
	list, err := c.ListOrders(t.Context(), &ordersv1.ListOrdersRequest{CustomerId: customer.Subject})
	if err != nil || len(list.GetOrders()) != 1 {
		t.Fatalf("orders after the crash: %v, %v", list.GetOrders(), err)
	}
	o := settle(t, c, list.GetOrders()[0].GetOrderId(), 20*time.Second)
	t.Logf("recovered in %s after the restart: %s", time.Since(start).Round(time.Millisecond), describe(o))
	// The payment method is persisted with the order, so the resumed saga authorizes and confirms.
	left, pay := p.available(product), p.payment(o.GetOrderId())
	if o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED || left != 7 ||
		pay.GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED {
		t.Errorf("after recovery: %s, stock %d (want 7), payment %v", describe(o), left, pay)
	}
	if !strings.Contains(restarted.Logs(), "resuming saga") {
		t.Errorf("the recovery loop did not resume the saga:\n%s", restarted.Logs())
	}
}
