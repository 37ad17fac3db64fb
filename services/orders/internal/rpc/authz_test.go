package rpc_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/proto/catalog"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"

	"mercato.dev/services/orders/internal/rpc"
)

// caller is one identity of the architecture's table: a SPIFFE ID and, for the edge, the
// end-user claims it forwards. Every call below acts on alice's orders.
type caller struct {
	name   string
	id     spiffeid.ID
	claims *claims.Claims
}

var callers = []caller{
	{"edge anonymous", identity.Edge, nil},
	{"edge owner", identity.Edge, &alice},
	{"edge other customer", identity.Edge, &bob},
	{"edge admin", identity.Edge, &admin},
	{"orders itself", ordersSvc, nil},
	{"customers", identity.Service("customers"), nil},
	{"inventory", identity.Service("inventory"), nil},
	{"payments", identity.Service("payments"), nil},
	{"notifications", identity.Service("notifications"), nil},
	{"ops cli", identity.OpsCLI, nil},
}

// allowed is the orders row of ARCHITECTURE.md's table: edge only, for the owner; an admin
// may read and cancel any customer's orders but places orders only for themself.
var allowed = map[string][]string{
	ordersv1connect.OrderServiceCreateOrderProcedure: {"edge owner"},
	ordersv1connect.OrderServiceGetOrderProcedure:    {"edge owner", "edge admin"},
	ordersv1connect.OrderServiceListOrdersProcedure:  {"edge owner", "edge admin"},
	ordersv1connect.OrderServiceCancelOrderProcedure: {"edge owner", "edge admin"},
}

const service = "mercato.orders.v1.OrderService"

// TestRulesCoverEveryMethod: every method of the service has a rule, and nothing else does.
func TestRulesCoverEveryMethod(t *testing.T) {
	t.Parallel()
	methods := catalog.MethodsOf(service)
	if len(methods) == 0 {
		t.Fatal("catalog knows no orders methods")
	}
	if got := slices.Sorted(maps.Keys(rpc.Rules())); !slices.Equal(got, methods) {
		t.Errorf("rules for %v, methods %v", got, methods)
	}
	if got := slices.Sorted(maps.Keys(allowed)); !slices.Equal(got, methods) {
		t.Errorf("this test's table covers %v, methods %v", got, methods)
	}
}

// TestAuthorizationTable calls every method as every identity with a valid request about
// alice's orders and checks that exactly the table's callers are served, another customer gets not_found (except
// for CreateOrder) and every other one permission_denied.
func TestAuthorizationTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner := f.as(t, alice)
	for _, method := range catalog.MethodsOf(service) {
		call, ok := validCalls[method]
		if !ok {
			t.Errorf("no valid request for %s: add one to validCalls", method)
			continue
		}
		for _, c := range callers {
			t.Run(method+"/"+c.name, func(t *testing.T) {
				err := call(t, owner, f.client(t, c.id, c.claims))
				switch {
				case slices.Contains(allowed[method], c.name):
					if err != nil {
						t.Errorf("allowed caller got %v", err)
					}
				case c.name == "edge other customer" && method != ordersv1connect.OrderServiceCreateOrderProcedure:
					// Another customer's orders are answered as missing ones; CreateOrder in another
					// customer's name stays permission_denied (below).
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

type client = ordersv1connect.OrderServiceClient

// validCalls make a request about alice's orders as c; owner sets up what the call needs.
var validCalls = map[string]func(t *testing.T, owner, c client) error{
	ordersv1connect.OrderServiceCreateOrderProcedure: func(t *testing.T, _, c client) error {
		_, err := c.CreateOrder(t.Context(), createRequest(alice, "pm_card_visa"))
		return err
	},
	ordersv1connect.OrderServiceGetOrderProcedure: func(t *testing.T, owner, c client) error {
		_, err := c.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: place(t, owner, alice)})
		return err
	},
	ordersv1connect.OrderServiceListOrdersProcedure: func(t *testing.T, _, c client) error {
		_, err := c.ListOrders(t.Context(), &ordersv1.ListOrdersRequest{CustomerId: alice.Subject})
		return err
	},
	ordersv1connect.OrderServiceCancelOrderProcedure: func(t *testing.T, owner, c client) error {
		_, err := c.CancelOrder(context.Background(), &ordersv1.CancelOrderRequest{OrderId: place(t, owner, alice)})
		return err
	},
}

// TestAdminPlacesOrdersOnlyForThemself: the admin role reads and cancels for others but does
// not place orders (and authorize payments) in another customer's name.
func TestAdminPlacesOrdersOnlyForThemself(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.as(t, admin).CreateOrder(t.Context(), createRequest(alice, "pm_card_visa")); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("admin placing for alice: %v, want permission_denied", err)
	}
	place(t, f.as(t, admin), admin)
}
