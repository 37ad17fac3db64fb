package devedge_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"
)

const productID = "7b0f1a6e-8c1d-4c7e-9d55-3f1f7f1c2a10"

// fakeInventory is a test InventoryService: it counts calls, can misbehave per call, and
// answers with its own name and the end-user subject it was given (claims from the edge).
type fakeInventory struct {
	inventoryv1connect.UnimplementedInventoryServiceHandler
	name    string
	delay   time.Duration
	fail    func(call int64) error // nil, or the error of that call (1-based)
	calls   atomic.Int64
	updates atomic.Int64
	adjusts atomic.Int64
}

func (f *fakeInventory) behave(ctx context.Context, n int64) error {
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.fail != nil {
		return f.fail(n)
	}
	return nil
}

func (f *fakeInventory) product(ctx context.Context, id string) *inventoryv1.Product {
	p := &inventoryv1.Product{ProductId: id, Name: f.name}
	if c, ok := claims.From(ctx); ok {
		p.Description = c.Subject
	}
	return p
}

func (f *fakeInventory) GetProduct(ctx context.Context, req *inventoryv1.GetProductRequest) (*inventoryv1.GetProductResponse, error) {
	if err := f.behave(ctx, f.calls.Add(1)); err != nil {
		return nil, err
	}
	return &inventoryv1.GetProductResponse{Product: f.product(ctx, req.GetProductId())}, nil
}

func (f *fakeInventory) UpdateProduct(ctx context.Context, req *inventoryv1.UpdateProductRequest) (*inventoryv1.UpdateProductResponse, error) {
	f.updates.Add(1)
	return &inventoryv1.UpdateProductResponse{Product: f.product(ctx, req.GetProductId())}, nil
}

func (f *fakeInventory) CreateProduct(ctx context.Context, _ *inventoryv1.CreateProductRequest) (*inventoryv1.CreateProductResponse, error) {
	return &inventoryv1.CreateProductResponse{Product: f.product(ctx, productID)}, nil
}

func (f *fakeInventory) AdjustStock(ctx context.Context, req *inventoryv1.AdjustStockRequest) (*inventoryv1.AdjustStockResponse, error) {
	if err := f.behave(ctx, f.adjusts.Add(1)); err != nil {
		return nil, err
	}
	return &inventoryv1.AdjustStockResponse{Product: f.product(ctx, req.GetProductId())}, nil
}

// register mounts f on a kit server with the architecture's callers (edge for the public
// methods, orders for stock reservations).
func (f *fakeInventory) register(s *server.Server) {
	path, h := inventoryv1connect.NewInventoryServiceHandler(f, s.HandlerOptions()...)
	edge, orders := identity.Edge, identity.Service("orders")
	s.Handle(path, h, authz.Rules{
		inventoryv1connect.InventoryServiceListProductsProcedure:  authz.Allow(edge, orders),
		inventoryv1connect.InventoryServiceGetProductProcedure:    authz.Allow(edge, orders),
		inventoryv1connect.InventoryServiceCreateProductProcedure: authz.Allow(edge),
		inventoryv1connect.InventoryServiceUpdateProductProcedure: authz.Allow(edge),
		inventoryv1connect.InventoryServiceAdjustStockProcedure:   authz.Allow(edge),
		inventoryv1connect.InventoryServiceReserveStockProcedure:  authz.Allow(orders),
		inventoryv1connect.InventoryServiceReleaseStockProcedure:  authz.Allow(orders),
	})
}

// inventoryClient calls the inventory service at base over client with the given options.
func inventoryClient(client *http.Client, base string, opts ...connect.ClientOption) inventoryv1connect.InventoryServiceClient {
	return inventoryv1connect.NewInventoryServiceClient(client, base, opts...)
}
