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
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

var (
	inventorySvc = identity.Service("inventory")
	ordersSvc    = identity.Service("orders")
)

// TestBinary runs the real inventory binary on each database engine (SQLite by default from
// MERCATO_DATA, PostgreSQL through INVENTORY_DATABASE_URL): it serves over mTLS, reports
// ready with its database check, answers plain JSON POSTs, and keeps a reservation, and its
// idempotency, across a SIGKILL and restart.
func TestBinary(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.Edge, ordersSvc})
	bin := kittest.Build(t, "mercato.dev/services/inventory/cmd/inventory")
	dbtest.Each(t, func(t *testing.T, url string) {
		vars := map[string]string{}
		if strings.HasPrefix(url, "postgres") {
			vars["INVENTORY_DATABASE_URL"] = url
		}
		p := env.StartService(t, "inventory", bin, vars)
		if body := get(t, "http://"+p.AdminAddr+"/readyz"); !strings.Contains(body, `"database":"ok"`) {
			t.Errorf("readyz lacks the database check: %s", body)
		}

		edge := env.HTTPClient(t, identity.Edge, inventorySvc)
		admin := inventoryv1connect.NewInventoryServiceClient(edge, "https://"+p.Addr, connect.WithProtoJSON(),
			connect.WithInterceptors(adminClaims()))
		created, err := admin.CreateProduct(t.Context(), &inventoryv1.CreateProductRequest{
			Sku: "SKU-BIN", Name: "Binary widget", Price: &moneyv1.Money{AmountMinor: 500, Currency: "EUR"}, InitialStock: 3,
		})
		if err != nil {
			t.Fatalf("create: %v\n%s", err, p.Logs())
		}
		id := created.GetProduct().GetProductId()

		res, err := edge.Post("https://"+p.Addr+inventoryv1connect.InventoryServiceGetProductProcedure,
			"application/json", strings.NewReader(`{"productId":"`+id+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sku":"SKU-BIN"`) {
			t.Errorf("curl-style GetProduct: %d %s", res.StatusCode, body)
		}

		orders := inventoryv1connect.NewInventoryServiceClient(env.HTTPClient(t, ordersSvc, inventorySvc), "https://"+p.Addr, connect.WithGRPC())
		req := &inventoryv1.ReserveStockRequest{OrderId: uuid.NewString(), Items: []*inventoryv1.ReservationItem{{ProductId: id, Quantity: 2}}}
		if _, err := orders.ReserveStock(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		p.Kill()
		p.Restart()
		again, err := orders.ReserveStock(t.Context(), req)
		if err != nil || again.GetReservation().GetState() != inventoryv1.ReservationState_RESERVATION_STATE_RESERVED {
			t.Fatalf("retry after restart: %v, %v", again, err)
		}
		got, err := admin.GetProduct(t.Context(), &inventoryv1.GetProductRequest{ProductId: id})
		if err != nil || got.GetProduct().GetAvailable() != 1 {
			t.Errorf("available after a reservation and its retry across a restart: %v, %v; want 1", got, err)
		}
	})
}

func adminClaims() connect.UnaryInterceptorFunc {
	header := claims.Encode(claims.Claims{Subject: uuid.NewString(), Roles: []string{claims.RoleAdmin}})
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
