package main_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

var (
	paymentsSvc = identity.Service("payments")
	ordersSvc   = identity.Service("orders")
)

// TestBinary runs the real payments binary on each database engine (SQLite by default from
// MERCATO_DATA, PostgreSQL through PAYMENTS_DATABASE_URL): it serves over mTLS, reports ready
// with its database check, lets the paying customer read the payment through the edge, and
// keeps a payment, and its idempotency, across a SIGKILL and restart.
func TestBinary(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.Edge, ordersSvc})
	bin := kittest.Build(t, "mercato.dev/services/payments/cmd/payments")
	natsURL := eventstest.StartBroker(t, env, "", 0).URL() // never the local stack's broker
	dbtest.Each(t, func(t *testing.T, url string) {
		vars := map[string]string{"NATS_URL": natsURL}
		if strings.HasPrefix(url, "postgres") {
			vars["PAYMENTS_DATABASE_URL"] = url
		}
		p := env.StartService(t, "payments", bin, vars)
		if body := get(t, "http://"+p.AdminAddr+"/readyz"); !strings.Contains(body, `"database":"ok"`) {
			t.Errorf("readyz lacks the database check: %s", body)
		}

		orders := paymentsv1connect.NewPaymentServiceClient(env.HTTPClient(t, ordersSvc, paymentsSvc), "https://"+p.Addr, connect.WithGRPC())
		customer := uuid.NewString()
		req := &paymentsv1.AuthorizePaymentRequest{
			OrderId: uuid.NewString(), CustomerId: customer, PaymentMethod: "pm_card_visa",
			Amount: &moneyv1.Money{AmountMinor: 1234, Currency: "EUR"},
		}
		first, err := orders.AuthorizePayment(t.Context(), req)
		if err != nil || first.GetPayment().GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED {
			t.Fatalf("authorize: %v, %v\n%s", first, err, p.Logs())
		}

		edge := paymentsv1connect.NewPaymentServiceClient(env.HTTPClient(t, identity.Edge, paymentsSvc), "https://"+p.Addr,
			connect.WithProtoJSON(), connect.WithInterceptors(withClaims(claims.Claims{Subject: customer, Roles: []string{claims.RoleCustomer}})))
		got, err := edge.GetPayment(t.Context(), &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_PaymentId{PaymentId: first.GetPayment().GetPaymentId()}})
		if err != nil || got.GetPayment().GetOrderId() != req.GetOrderId() {
			t.Fatalf("owner reads the payment: %v, %v", got, err)
		}

		p.Kill()
		p.Restart()
		again, err := orders.AuthorizePayment(t.Context(), req)
		if err != nil || again.GetPayment().GetPaymentId() != first.GetPayment().GetPaymentId() {
			t.Errorf("retry after restart: %v, %v; want payment %s", again, err, first.GetPayment().GetPaymentId())
		}
	})
}

func withClaims(c claims.Claims) connect.UnaryInterceptorFunc {
	header := claims.Encode(c)
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(claims.Header, header)
			return next(ctx, req)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
