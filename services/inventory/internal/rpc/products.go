package rpc

import (
	"context"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/inventory/internal/stock"
	"mercato.dev/services/kit/claims"
)

// ListProducts pages through the catalog by SKU.
func (h *Handler) ListProducts(ctx context.Context, req *inventoryv1.ListProductsRequest) (*inventoryv1.ListProductsResponse, error) {
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	products, more, err := h.inv.ListProducts(ctx, after, int(req.GetPageSize()))
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	res := &inventoryv1.ListProductsResponse{Products: make([]*inventoryv1.Product, len(products))}
	for i, p := range products {
		res.Products[i] = toProduct(p)
	}
	if more {
		res.NextPageToken = encodePageToken(products[len(products)-1].SKU)
	}
	return res, nil
}

// GetProduct returns one product.
func (h *Handler) GetProduct(ctx context.Context, req *inventoryv1.GetProductRequest) (*inventoryv1.GetProductResponse, error) {
	id, err := parseID("product_id", req.GetProductId())
	if err != nil {
		return nil, err
	}
	p, err := h.inv.Product(ctx, id)
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &inventoryv1.GetProductResponse{Product: toProduct(p)}, nil
}

// CreateProduct adds a product (admins only).
func (h *Handler) CreateProduct(ctx context.Context, req *inventoryv1.CreateProductRequest) (*inventoryv1.CreateProductResponse, error) {
	if err := claims.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	p, err := h.inv.CreateProduct(ctx, stock.NewProduct{
		SKU: req.GetSku(), Name: req.GetName(), Description: req.GetDescription(),
		Price: fromMoney(req.GetPrice()), InitialStock: req.GetInitialStock(),
	})
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &inventoryv1.CreateProductResponse{Product: toProduct(p)}, nil
}

// UpdateProduct changes the fields set in the request (admins only).
func (h *Handler) UpdateProduct(ctx context.Context, req *inventoryv1.UpdateProductRequest) (*inventoryv1.UpdateProductResponse, error) {
	if err := claims.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	id, err := parseID("product_id", req.GetProductId())
	if err != nil {
		return nil, err
	}
	change := stock.ProductChange{Name: req.Name, Description: req.Description}
	if req.GetPrice() != nil {
		price := fromMoney(req.GetPrice())
		change.Price = &price
	}
	p, err := h.inv.UpdateProduct(ctx, id, change)
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &inventoryv1.UpdateProductResponse{Product: toProduct(p)}, nil
}

// AdjustStock adds or removes units (admins only).
func (h *Handler) AdjustStock(ctx context.Context, req *inventoryv1.AdjustStockRequest) (*inventoryv1.AdjustStockResponse, error) {
	if err := claims.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	id, err := parseID("product_id", req.GetProductId())
	if err != nil {
		return nil, err
	}
	p, err := h.inv.AdjustStock(ctx, stock.Adjustment{ProductID: id, Delta: int64(req.GetDelta()), Reason: req.GetReason()})
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &inventoryv1.AdjustStockResponse{Product: toProduct(p)}, nil
}
