package rpc_test

import (
	"slices"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/services/kit/identity"
)

// TestEveryProtocol authorizes, reads and voids a payment over Connect JSON, Connect binary,
// gRPC and gRPC-Web, through mTLS with real SVIDs.
func TestEveryProtocol(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	protocols := []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect-json", []connect.ClientOption{connect.WithProtoJSON()}},
		{"connect-binary", nil},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			orders := f.client(t, ordersSvc, nil, p.opts...)
			customer := f.client(t, identity.Edge, &ownerClaims, p.opts...)
			req := authorizeRequest("pm_card_visa", 2500)
			paid := authorize(t, orders, req)
			if paid.GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED || paid.GetAmount().GetAmountMinor() != 2500 {
				t.Fatalf("authorized %v", paid)
			}
			got, err := customer.GetPayment(t.Context(), &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: req.GetOrderId()}})
			if err != nil || !proto.Equal(got.GetPayment(), paid) {
				t.Fatalf("get by order: %v, %v; want %v", got, err, paid)
			}
			voided, err := orders.VoidPayment(t.Context(), &paymentsv1.VoidPaymentRequest{OrderId: req.GetOrderId()})
			if err != nil || voided.GetPayment().GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_VOIDED || voided.GetPayment().GetPaymentId() != paid.GetPaymentId() {
				t.Fatalf("void: %v, %v", voided, err)
			}
		})
	}
}

// TestDeclineRuleOverTheWire checks the documented rule end to end: a decline is a payment
// with status DECLINED and its reason, never an error.
func TestDeclineRuleOverTheWire(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	orders := f.orders(t)
	tests := []struct {
		method string
		minor  int64
		status paymentsv1.PaymentStatus
		reason paymentsv1.DeclineReason
	}{
		{"pm_card_visa", 1_000_000, paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED, paymentsv1.DeclineReason_DECLINE_REASON_UNSPECIFIED},
		{"pm_card_visa", 1_000_001, paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED, paymentsv1.DeclineReason_DECLINE_REASON_AMOUNT_TOO_LARGE},
		{"pm_card_declined", 100, paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED, paymentsv1.DeclineReason_DECLINE_REASON_CARD_DECLINED},
		{"pm_insufficient_funds", 2_000_000, paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED, paymentsv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS},
	}
	for _, tt := range tests {
		p := authorize(t, orders, authorizeRequest(tt.method, tt.minor))
		if p.GetStatus() != tt.status || p.GetDeclineReason() != tt.reason {
			t.Errorf("%s %d: %v %v, want %v %v", tt.method, tt.minor, p.GetStatus(), p.GetDeclineReason(), tt.status, tt.reason)
		}
	}
}

func TestIdempotencyAndConflicts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	orders := f.orders(t)
	req := authorizeRequest("pm_card_visa", 700)

	const calls = 20
	ids := make(chan string, calls)
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			res, err := orders.AuthorizePayment(t.Context(), req)
			if err != nil {
				t.Errorf("concurrent authorize: %v", err)
				return
			}
			ids <- res.GetPayment().GetPaymentId()
		})
	}
	wg.Wait()
	close(ids)
	first := <-ids
	for id := range ids {
		if id != first {
			t.Errorf("payment IDs %s and %s for one order", first, id)
		}
	}

	other := proto.CloneOf(req)
	other.Amount = &moneyv1.Money{AmountMinor: 701, Currency: "EUR"}
	_, err := orders.AuthorizePayment(t.Context(), other)
	wantCode(t, err, connect.CodeFailedPrecondition)

	_, err = orders.VoidPayment(t.Context(), &paymentsv1.VoidPaymentRequest{OrderId: uuid.NewString()})
	wantCode(t, err, connect.CodeNotFound)

	declined := authorizeRequest("pm_card_declined", 700)
	authorize(t, orders, declined)
	res, err := orders.VoidPayment(t.Context(), &paymentsv1.VoidPaymentRequest{OrderId: declined.GetOrderId()})
	if err != nil || res.GetPayment().GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED {
		t.Errorf("void of a declined payment: %v, %v; want it unchanged", res, err)
	}
}

func TestInvalidRequestsNameTheirFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	orders := f.orders(t)
	tests := []struct {
		name string
		req  *paymentsv1.AuthorizePaymentRequest
		want []string
	}{
		{"bad order uuid", &paymentsv1.AuthorizePaymentRequest{OrderId: "42", CustomerId: owner, PaymentMethod: "pm_card_visa", Amount: &moneyv1.Money{Currency: "EUR"}}, []string{"order_id"}},
		{"no amount", &paymentsv1.AuthorizePaymentRequest{OrderId: uuid.NewString(), CustomerId: owner, PaymentMethod: "pm_card_visa"}, []string{"amount"}},
		{"negative amount, bad currency", &paymentsv1.AuthorizePaymentRequest{OrderId: uuid.NewString(), CustomerId: owner, PaymentMethod: "pm_card_visa", Amount: &moneyv1.Money{AmountMinor: -1, Currency: "eur"}}, []string{"amount.amount_minor", "amount.currency"}},
		{"method not a token", &paymentsv1.AuthorizePaymentRequest{OrderId: uuid.NewString(), CustomerId: owner, PaymentMethod: "visa 4242", Amount: &moneyv1.Money{Currency: "EUR"}}, []string{"payment_method"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := orders.AuthorizePayment(t.Context(), tt.req)
			got := fieldPaths(t, wantCode(t, err, connect.CodeInvalidArgument))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("field paths %v, want %v", got, tt.want)
			}
		})
	}
	_, err := orders.GetPayment(t.Context(), &paymentsv1.GetPaymentRequest{})
	if cerr := wantCode(t, err, connect.CodeInvalidArgument); len(fieldPaths(t, cerr)) != 1 {
		t.Errorf("GetPayment without a lookup: %v", cerr)
	}
}

// TestGetPaymentOwnerOrAdmin: through the edge, only the paying customer and admins read a
// payment; the orders service reads any.
func TestGetPaymentOwnerOrAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	paid := authorize(t, f.orders(t), authorizeRequest("pm_card_visa", 900))
	byID := &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_PaymentId{PaymentId: paid.GetPaymentId()}}
	tests := []struct {
		name string
		c    func() error
		want connect.Code
	}{
		{"owner", func() error {
			_, err := f.client(t, identity.Edge, &ownerClaims).GetPayment(t.Context(), byID)
			return err
		}, 0},
		{"admin", func() error {
			_, err := f.client(t, identity.Edge, &adminClaims).GetPayment(t.Context(), byID)
			return err
		}, 0},
		{"orders", func() error { _, err := f.orders(t).GetPayment(t.Context(), byID); return err }, 0},
		{"another customer", func() error {
			_, err := f.client(t, identity.Edge, &otherClaims).GetPayment(t.Context(), byID)
			return err
		}, connect.CodeNotFound},
		{"edge without claims", func() error { _, err := f.client(t, identity.Edge, nil).GetPayment(t.Context(), byID); return err }, connect.CodePermissionDenied},
		{"owner, unknown payment", func() error {
			_, err := f.client(t, identity.Edge, &ownerClaims).GetPayment(t.Context(), &paymentsv1.GetPaymentRequest{
				Lookup: &paymentsv1.GetPaymentRequest_PaymentId{PaymentId: uuid.NewString()}})
			return err
		}, connect.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c(); connect.CodeOf(err) != tt.want && !(tt.want == 0 && err == nil) {
				t.Errorf("got %v, want code %v", err, tt.want)
			}
		})
	}
}
