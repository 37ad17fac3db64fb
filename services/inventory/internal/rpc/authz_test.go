package rpc_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/proto/catalog"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/services/inventory/internal/rpc"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
)

// caller is one identity of the architecture's table: a SPIFFE ID and, for the edge, the
// end-user claims it forwards.
type caller struct {
	name   string
	id     spiffeid.ID
	claims *claims.Claims
}

var callers = []caller{
	{"edge anonymous", identity.Edge, nil},
	{"edge customer", identity.Edge, &userClaims},
	{"edge admin", identity.Edge, &adminClaims},
	{"orders", ordersSvc, nil},
	{"customers", identity.Service("customers"), nil},
	{"payments", identity.Service("payments"), nil},
	{"notifications", identity.Service("notifications"), nil},
	{"inventory itself", inventorySvc, nil},
	{"ops cli", identity.OpsCLI, nil},
}

// allowed is the inventory row of ARCHITECTURE.md's authorization table, spelled out.
var allowed = map[string][]string{
	inventoryv1connect.InventoryServiceListProductsProcedure:  {"edge anonymous", "edge customer", "edge admin", "orders"},
	inventoryv1connect.InventoryServiceGetProductProcedure:    {"edge anonymous", "edge customer", "edge admin", "orders"},
	inventoryv1connect.InventoryServiceCreateProductProcedure: {"edge admin"},
	inventoryv1connect.InventoryServiceUpdateProductProcedure: {"edge admin"},
	inventoryv1connect.InventoryServiceAdjustStockProcedure:   {"edge admin"},
	inventoryv1connect.InventoryServiceReserveStockProcedure:  {"orders"},
	inventoryv1connect.InventoryServiceReleaseStockProcedure:  {"orders"},
}

// TestRulesCoverEveryMethod: every method of the service has a rule, and nothing else does.
func TestRulesCoverEveryMethod(t *testing.T) {
	t.Parallel()
	methods := catalog.MethodsOf(inventoryv1.File_mercato_inventory_v1_inventory_proto.Services().Get(0).FullName())
	if len(methods) == 0 {
		t.Fatal("catalog knows no inventory methods")
	}
	if got := slices.Sorted(maps.Keys(rpc.Rules())); !slices.Equal(got, methods) {
		t.Errorf("rules for %v, methods %v", got, methods)
	}
	if got := slices.Sorted(maps.Keys(allowed)); !slices.Equal(got, methods) {
		t.Errorf("this test's table covers %v, methods %v", got, methods)
	}
}

// TestAuthorizationTable calls every method as every identity with a valid request and checks
// that exactly the table's callers are served, and every other one is permission_denied.
func TestAuthorizationTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	product := createProduct(t, f.admin(t), "SKU-AUTHZ", 1_000).GetProductId()
	calls := validCalls(product)
	for _, method := range catalog.MethodsOf("mercato.inventory.v1.InventoryService") {
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
				case connect.CodeOf(err) != connect.CodePermissionDenied:
					t.Errorf("denied caller got %v, want permission_denied", err)
				}
			})
		}
	}
}

// validCalls are requests that succeed when authorized.
func validCalls(product string) map[string]func(context.Context, inventoryv1connect.InventoryServiceClient) error {
	name := "renamed"
	item := []*inventoryv1.ReservationItem{{ProductId: product, Quantity: 1}}
	return map[string]func(context.Context, inventoryv1connect.InventoryServiceClient) error{
		inventoryv1connect.InventoryServiceListProductsProcedure: func(ctx context.Context, c inventoryv1connect.InventoryServiceClient) error {
			_, err := c.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
			return err
		},
		inventoryv1connect.InventoryServiceGetProductProcedure: func(ctx context.Context, c inventoryv1connect.InventoryServiceClient) error {
			_, err := c.GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: product})
			return err
		},
		inventoryv1connect.InventoryServiceCreateProductProcedure: func(ctx context.Context, c inventoryv1connect.InventoryServiceClient) error {
			_, err := c.CreateProduct(ctx, &inventoryv1.CreateProductRequest{Sku: "SKU-" + strings.ToUpper(uuid.NewString()), Name: "n", Price: eur(1)})
			return err
		},
		inventoryv1connect.InventoryServiceUpdateProductProcedure: func(ctx context.Context, c inventoryv1connect.InventoryServiceClient) error {
			_, err := c.UpdateProduct(ctx, &inventoryv1.UpdateProductRequest{ProductId: product, Name: &name})
			return err
		},
		inventoryv1connect.InventoryServiceAdjustStockProcedure: func(ctx context.Context, c inventoryv1connect.InventoryServiceClient) error {
			_, err := c.AdjustStock(ctx, &inventoryv1.AdjustStockRequest{ProductId: product, Delta: 1, Reason: "authz test"})
			return err
		},
		inventoryv1connect.InventoryServiceReserveStockProcedure: func(ctx context.Context, c inventoryv1connect.InventoryServiceClient) error {
			_, err := c.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{OrderId: uuid.NewString(), Items: item})
			return err
		},
		inventoryv1connect.InventoryServiceReleaseStockProcedure: func(ctx context.Context, c inventoryv1connect.InventoryServiceClient) error {
			_, err := c.ReleaseStock(ctx, &inventoryv1.ReleaseStockRequest{OrderId: uuid.NewString()})
			return err
		},
	}
}
