// Package rpc serves the InventoryService over Connect: thin handlers that call one use case of
// package stock, convert messages, and map domain errors to Connect codes. Who may call which
// method is declared here too (Rules), next to the registration.
package rpc

import (
	"log/slog"

	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/services/inventory/internal/stock"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"
)

// Rules is the inventory row of the architecture's authorization table. CreateProduct,
// UpdateProduct and AdjustStock also need an admin's claims, checked by the handlers.
func Rules() authz.Rules {
	orders := identity.Service("orders")
	return authz.Rules{
		inventoryv1connect.InventoryServiceListProductsProcedure:  authz.Allow(identity.Edge, orders),
		inventoryv1connect.InventoryServiceGetProductProcedure:    authz.Allow(identity.Edge, orders),
		inventoryv1connect.InventoryServiceCreateProductProcedure: authz.Allow(identity.Edge),
		inventoryv1connect.InventoryServiceUpdateProductProcedure: authz.Allow(identity.Edge),
		inventoryv1connect.InventoryServiceAdjustStockProcedure:   authz.Allow(identity.Edge),
		inventoryv1connect.InventoryServiceReserveStockProcedure:  authz.Allow(orders),
		inventoryv1connect.InventoryServiceReleaseStockProcedure:  authz.Allow(orders),
	}
}

// Handler implements inventoryv1connect.InventoryServiceHandler.
type Handler struct {
	inv    *stock.Inventory
	logger *slog.Logger
}

var _ inventoryv1connect.InventoryServiceHandler = (*Handler)(nil)

// New returns the handlers of inv; logger records the internal errors clients never see.
func New(inv *stock.Inventory, logger *slog.Logger) *Handler {
	return &Handler{inv: inv, logger: logger}
}

// Register mounts the service on srv with its authorization rules.
func Register(srv *server.Server, h *Handler) {
	path, handler := inventoryv1connect.NewInventoryServiceHandler(h, srv.HandlerOptions()...)
	srv.Handle(path, handler, Rules())
}
