package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders/migrate"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/rpc"
	"mercato.dev/services/orders/internal/saga"
	"mercato.dev/services/orders/internal/store"
)

var (
	ordersSvc = identity.Service("orders")
	alice     = claims.Claims{Subject: "6b7e3c1a-0000-4000-8000-00000000000a", Roles: []string{claims.RoleCustomer}}
	bob       = claims.Claims{Subject: "6b7e3c1a-0000-4000-8000-00000000000b", Roles: []string{claims.RoleCustomer}}
	admin     = claims.Claims{Subject: "6b7e3c1a-0000-4000-8000-0000000000ad", Roles: []string{claims.RoleCustomer, claims.RoleAdmin}}
	product   = uuid.MustParse("0b7e3c1a-0000-4000-8000-000000000001")
)

// fixture is an in-process orders server — real handlers, saga and store on SQLite — whose
// dependencies are stand-ins that reserve every product at 1.50 EUR, authorize every payment
// except "pm_card_declined", and find every customer inactive (never asked: see CheckCustomer).
type fixture struct {
	env *kittest.Env
	srv *server.Server
}

func newFixture(t testing.TB) *fixture {
	return newFixtureOn(t, dbtest.SQLite(t))
}

// newFixtureOn is newFixture on the database at url.
func newFixtureOn(t testing.TB, url string) *fixture {
	t.Helper()
	env := kittest.Start(t, []spiffeid.ID{
		ordersSvc, identity.Edge, identity.OpsCLI, identity.Service("customers"),
		identity.Service("inventory"), identity.Service("payments"), identity.Service("notifications"),
	})
	st := store.New(dbtest.Open(t, url, migrate.Migrations))
	deps := standIns{}
	s := saga.New(st, deps, deps, deps, saga.Options{})
	t.Cleanup(func() { _ = s.Close(5 * time.Second) })
	srv := env.Serve(t, "orders", func(srv *server.Server) { rpc.Register(srv, rpc.New(s, st, nil)) })
	return &fixture{env: env, srv: srv}
}

// client calls the server as caller; with claims set, as the edge forwarding an end user's.
func (f *fixture) client(t testing.TB, caller spiffeid.ID, c *claims.Claims) ordersv1connect.OrderServiceClient {
	t.Helper()
	var opts []connect.ClientOption
	if c != nil {
		opts = append(opts, connect.WithInterceptors(withClaims(*c)))
	}
	return ordersv1connect.NewOrderServiceClient(f.env.HTTPClient(t, caller, ordersSvc), "https://"+f.srv.Addr(), opts...)
}

func (f *fixture) as(t testing.TB, c claims.Claims) ordersv1connect.OrderServiceClient {
	return f.client(t, identity.Edge, &c)
}

func withClaims(c claims.Claims) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(claims.Header, claims.Encode(c))
			return next(ctx, req)
		}
	}
}

func createRequest(customer claims.Claims, method string) *ordersv1.CreateOrderRequest {
	return &ordersv1.CreateOrderRequest{
		CustomerId: customer.Subject, IdempotencyKey: uuid.NewString(), PaymentMethod: method,
		Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: product.String(), Quantity: 2}},
	}
}

// place creates a confirmed order of customer's and returns its ID.
func place(t *testing.T, c ordersv1connect.OrderServiceClient, customer claims.Claims) string {
	t.Helper()
	res, err := c.CreateOrder(t.Context(), createRequest(customer, "pm_card_visa"))
	if err != nil {
		t.Fatal(err)
	}
	if s := res.GetOrder().GetStatus(); s != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
		t.Fatalf("placed order is %s", s)
	}
	return res.GetOrder().GetOrderId()
}

type standIns struct{}

// CheckCustomer refuses everyone: CreateOrder is placed with the customer's own token, which
// proves the customer, so the saga never asks (an order that did would be rejected).
func (standIns) CheckCustomer(context.Context, uuid.UUID) error { return saga.ErrCustomerInactive }
func (standIns) Reserve(_ context.Context, _ uuid.UUID, items []order.Item) (map[uuid.UUID]order.Money, error) {
	prices := map[uuid.UUID]order.Money{}
	for _, it := range items {
		prices[it.ProductID] = order.Money{Amount: 150, Currency: "EUR"}
	}
	return prices, nil
}
func (standIns) Release(context.Context, uuid.UUID) error { return nil }
func (standIns) Void(context.Context, uuid.UUID) error    { return nil }
func (standIns) Authorize(_ context.Context, p saga.Payment) (uuid.UUID, error) {
	if p.Method == "pm_card_declined" {
		return uuid.Nil, fmt.Errorf("%w: card declined", saga.ErrDeclined)
	}
	return uuid.New(), nil
}
