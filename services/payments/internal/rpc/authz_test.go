package rpc_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/proto/catalog"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/payments/internal/rpc"
)

const paymentService = "mercato.payments.v1.PaymentService"

// caller is one identity of the architecture's table: a SPIFFE ID and, for the edge, the
// end-user claims it forwards.
type caller struct {
	name   string
	id     spiffeid.ID
	claims *claims.Claims
}

var callers = []caller{
	{"edge anonymous", identity.Edge, nil},
	{"edge owner", identity.Edge, &ownerClaims},
	{"edge other customer", identity.Edge, &otherClaims},
	{"edge admin", identity.Edge, &adminClaims},
	{"orders", ordersSvc, nil},
	{"customers", identity.Service("customers"), nil},
	{"inventory", identity.Service("inventory"), nil},
	{"notifications", identity.Service("notifications"), nil},
	{"payments itself", paymentsSvc, nil},
	{"ops cli", identity.OpsCLI, nil},
}

// allowed is the payments row of ARCHITECTURE.md's authorization table, spelled out.
var allowed = map[string][]string{
	paymentsv1connect.PaymentServiceAuthorizePaymentProcedure: {"orders"},
	paymentsv1connect.PaymentServiceVoidPaymentProcedure:      {"orders"},
	paymentsv1connect.PaymentServiceGetPaymentProcedure:       {"orders", "edge owner", "edge admin"},
}

// TestRulesCoverEveryMethod: every method of the service has a rule, and nothing else does.
func TestRulesCoverEveryMethod(t *testing.T) {
	t.Parallel()
	methods := catalog.MethodsOf(paymentService)
	if len(methods) == 0 {
		t.Fatal("catalog knows no payments methods")
	}
	if got := slices.Sorted(maps.Keys(rpc.Rules())); !slices.Equal(got, methods) {
		t.Errorf("rules for %v, methods %v", got, methods)
	}
	if got := slices.Sorted(maps.Keys(allowed)); !slices.Equal(got, methods) {
		t.Errorf("this test's table covers %v, methods %v", got, methods)
	}
}

// TestAuthorizationTable calls every method as every identity with a valid request and checks
// that exactly the table's callers are served, another customer gets not_found, and every other
// one permission_denied.
func TestAuthorizationTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	paid := authorize(t, f.orders(t), authorizeRequest("pm_card_visa", 100))
	calls := validCalls(paid.GetOrderId())
	for _, method := range catalog.MethodsOf(paymentService) {
		call, ok := calls[method]
		if !ok {
			t.Errorf("no valid request for %s: add one to validCalls", method)
			continue
		}
		for _, c := range callers {
			t.Run(method+"/"+c.name, func(t *testing.T) {
				err := call(t.Context(), f.client(t, c.id, c.claims))
				switch {
				case slices.Contains(allowed[method], c.name):
					if err != nil {
						t.Errorf("allowed caller got %v", err)
					}
				case c.name == "edge other customer" && method == paymentsv1connect.PaymentServiceGetPaymentProcedure:
					// Another customer's payment is answered as a missing one.
					if connect.CodeOf(err) != connect.CodeNotFound {
						t.Errorf("another customer got %v, want not_found", err)
					}
				case connect.CodeOf(err) != connect.CodePermissionDenied:
					t.Errorf("denied caller got %v, want permission_denied", err)
				}
			})
		}
	}
}

// validCalls are requests that succeed when authorized: the order paid belongs to the owner.
func validCalls(paidOrder string) map[string]func(context.Context, paymentsv1connect.PaymentServiceClient) error {
	return map[string]func(context.Context, paymentsv1connect.PaymentServiceClient) error{
		paymentsv1connect.PaymentServiceAuthorizePaymentProcedure: func(ctx context.Context, c paymentsv1connect.PaymentServiceClient) error {
			_, err := c.AuthorizePayment(ctx, authorizeRequest("pm_card_visa", 100))
			return err
		},
		paymentsv1connect.PaymentServiceVoidPaymentProcedure: func(ctx context.Context, c paymentsv1connect.PaymentServiceClient) error {
			_, err := c.VoidPayment(ctx, &paymentsv1.VoidPaymentRequest{OrderId: paidOrder})
			return err
		},
		paymentsv1connect.PaymentServiceGetPaymentProcedure: func(ctx context.Context, c paymentsv1connect.PaymentServiceClient) error {
			_, err := c.GetPayment(ctx, &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: paidOrder}})
			return err
		},
	}
}
