package rpc_test

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"

	"mercato.dev/services/orders/internal/order"
)

func TestCreateOrderAnswersOutcomesAsData(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.as(t, alice)
	tests := []struct {
		name       string
		method     string
		wantStatus ordersv1.OrderStatus
		wantReason ordersv1.RejectReason
	}{
		{"confirmed", "pm_card_visa", ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, ordersv1.RejectReason_REJECT_REASON_UNSPECIFIED},
		{"declined", "pm_card_declined", ordersv1.OrderStatus_ORDER_STATUS_REJECTED, ordersv1.RejectReason_REJECT_REASON_PAYMENT_DECLINED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.CreateOrder(t.Context(), createRequest(alice, tt.method))
			if err != nil {
				t.Fatal(err)
			}
			o := res.GetOrder()
			if o.GetStatus() != tt.wantStatus || o.GetRejectReason() != tt.wantReason {
				t.Fatalf("got %s %s, want %s %s", o.GetStatus(), o.GetRejectReason(), tt.wantStatus, tt.wantReason)
			}
			if o.GetTotal().GetAmountMinor() != 300 || o.GetTotal().GetCurrency() != "EUR" || o.GetItems()[0].GetLineTotal().GetAmountMinor() != 300 {
				t.Errorf("total %v, items %v", o.GetTotal(), o.GetItems())
			}
			if (tt.wantReason != 0) != (o.GetRejectMessage() != "") {
				t.Errorf("reject message %q", o.GetRejectMessage())
			}
			if (o.GetPaymentId() != "") != (tt.wantReason == 0) || o.GetCustomerId() != alice.Subject || o.GetCreateTime() == nil {
				t.Errorf("order %v", o)
			}
		})
	}
}

func TestCreateOrderIdempotency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.as(t, alice)
	req := createRequest(alice, "pm_card_visa")
	first, err := c.CreateOrder(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateOrder(t.Context(), req)
	if err != nil || again.GetOrder().GetOrderId() != first.GetOrder().GetOrderId() {
		t.Fatalf("same key: %v, %v", again.GetOrder().GetOrderId(), err)
	}
	req.Items[0].Quantity = 3
	_, err = c.CreateOrder(t.Context(), req)
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("same key, other body: %v, want failed_precondition", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.as(t, alice)
	rejected, err := c.CreateOrder(t.Context(), createRequest(alice, "pm_card_declined"))
	if err != nil {
		t.Fatal(err)
	}
	bad := createRequest(alice, "pm_card_visa")
	bad.Items[0].Quantity = 0
	tests := []struct {
		name string
		call func() error
		want connect.Code
	}{
		{"unknown order", func() error {
			_, err := c.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: uuid.NewString()})
			return err
		}, connect.CodeNotFound},
		{"invalid request", func() error { _, err := c.CreateOrder(t.Context(), bad); return err }, connect.CodeInvalidArgument},
		{"bad page token", func() error {
			_, err := c.ListOrders(t.Context(), &ordersv1.ListOrdersRequest{CustomerId: alice.Subject, PageToken: "nope"})
			return err
		}, connect.CodeInvalidArgument},
		{"cancel a rejected order", func() error {
			_, err := c.CancelOrder(t.Context(), &ordersv1.CancelOrderRequest{OrderId: rejected.GetOrder().GetOrderId()})
			return err
		}, connect.CodeFailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); connect.CodeOf(err) != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestCancelOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.as(t, alice)
	id := place(t, c, alice)
	for range 2 { // canceling again answers the canceled order
		res, err := c.CancelOrder(t.Context(), &ordersv1.CancelOrderRequest{OrderId: id, Reason: "changed my mind"})
		if err != nil || res.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CANCELED {
			t.Fatalf("cancel: %v, %v", res.GetOrder().GetStatus(), err)
		}
		if got := res.GetOrder().GetCancelReason(); got != "changed my mind" {
			t.Errorf("cancel reason %q, want the request's", got)
		}
	}
	got, err := c.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: id})
	if err != nil || got.GetOrder().GetCancelReason() != "changed my mind" {
		t.Errorf("GetOrder after cancel: reason %q, %v", got.GetOrder().GetCancelReason(), err)
	}
}

func TestListOrdersPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.as(t, alice)
	for range 5 {
		place(t, c, alice)
	}
	place(t, f.as(t, bob), bob)
	var ids []string
	token := ""
	for {
		res, err := f.as(t, admin).ListOrders(t.Context(), &ordersv1.ListOrdersRequest{CustomerId: alice.Subject, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.GetOrders() {
			ids = append(ids, o.GetOrderId())
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(ids) != 5 {
		t.Errorf("listed %d orders of alice's 5", len(ids))
	}
}

// TestReasonsAreTheAPIsEnum: every domain reason names a value of the API's RejectReason.
func TestReasonsAreTheAPIsEnum(t *testing.T) {
	t.Parallel()
	for _, r := range order.Reasons {
		if _, ok := ordersv1.RejectReason_value[string(r)]; !ok || r.Message() == "" {
			t.Errorf("reason %q is not in the API's enum or has no message", r)
		}
	}
	if len(order.Reasons) != len(ordersv1.RejectReason_value)-1 {
		t.Errorf("%d domain reasons, %d API reasons", len(order.Reasons), len(ordersv1.RejectReason_value)-1)
	}
}
