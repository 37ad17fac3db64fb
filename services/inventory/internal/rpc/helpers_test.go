package rpc_test

import (
	"context"
	"errors"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	ent "mercato.dev/ent/inventory"
	"mercato.dev/ent/inventory/migrate"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	"mercato.dev/services/inventory/internal/rpc"
	"mercato.dev/services/inventory/internal/stock"
	"mercato.dev/services/inventory/internal/store"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
	"mercato.dev/services/kit/telemetry"
)

var (
	inventorySvc = identity.Service("inventory")
	ordersSvc    = identity.Service("orders")
	adminClaims  = claims.Claims{Subject: "6b7e3c1a-0000-4000-8000-000000000001", Roles: []string{claims.RoleCustomer, claims.RoleAdmin}}
	userClaims   = claims.Claims{Subject: "6b7e3c1a-0000-4000-8000-000000000002", Roles: []string{claims.RoleCustomer}}
)

// fixture is an in-process inventory server on a fresh SQLite database, with an issuer that
// hands out every identity of the platform to this test.
type fixture struct {
	env *kittest.Env
	srv *server.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := kittest.Start(t, []spiffeid.ID{
		inventorySvc, identity.Edge, ordersSvc, identity.OpsCLI,
		identity.Service("customers"), identity.Service("payments"), identity.Service("notifications"),
	})
	db := dbtest.Open(t, dbtest.SQLite(t), migrate.Migrations)
	drv := db.Driver()
	h := rpc.New(stock.New(store.New(ent.NewClient(ent.Driver(drv)), store.WithDriver(drv))), telemetry.Discard())
	srv := env.Serve(t, "inventory", func(s *server.Server) { rpc.Register(s, h) })
	return &fixture{env: env, srv: srv}
}

// client calls the server as caller; with claims set, as the edge forwarding an end user's.
func (f *fixture) client(t *testing.T, caller spiffeid.ID, c *claims.Claims, opts ...connect.ClientOption) inventoryv1connect.InventoryServiceClient {
	t.Helper()
	if c != nil {
		opts = append(opts, connect.WithInterceptors(withClaims(*c)))
	}
	return inventoryv1connect.NewInventoryServiceClient(f.env.HTTPClient(t, caller, inventorySvc), "https://"+f.srv.Addr(), opts...)
}

func (f *fixture) admin(t *testing.T) inventoryv1connect.InventoryServiceClient {
	return f.client(t, identity.Edge, &adminClaims)
}

func (f *fixture) orders(t *testing.T) inventoryv1connect.InventoryServiceClient {
	return f.client(t, ordersSvc, nil)
}

// withClaims sets the claims header the way the edge does.
func withClaims(c claims.Claims) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(claims.Header, claims.Encode(c))
			return next(ctx, req)
		}
	}
}

func createProduct(t *testing.T, c inventoryv1connect.InventoryServiceClient, sku string, stock int64) *inventoryv1.Product {
	t.Helper()
	res, err := c.CreateProduct(t.Context(), &inventoryv1.CreateProductRequest{
		Sku: sku, Name: "Widget " + sku, Price: eur(1999), InitialStock: stock,
	})
	if err != nil {
		t.Fatalf("create %s: %v", sku, err)
	}
	return res.GetProduct()
}

func eur(minor int64) *moneyv1.Money { return &moneyv1.Money{AmountMinor: minor, Currency: "EUR"} }

func wantCode(t *testing.T, err error, code connect.Code) *connect.Error {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	return cerr
}

// fieldPaths lists the field paths of an invalid_argument error's protovalidate detail.
func fieldPaths(t *testing.T, cerr *connect.Error) []string {
	t.Helper()
	var paths []string
	for _, d := range cerr.Details() {
		msg, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := msg.(*validate.Violations); ok {
			for _, violation := range v.GetViolations() {
				paths = append(paths, protovalidate.FieldPathString(violation.GetField()))
			}
		}
	}
	return paths
}
