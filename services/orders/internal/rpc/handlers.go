package rpc

import (
	"context"

	"github.com/google/uuid"

	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"

	"mercato.dev/services/orders/internal/order"
)

// defaultPageSize is ListOrders' page size when the request sets none.
const defaultPageSize = 20

// CreateOrder places the order (owner only) and answers it in its state when the call ends.
func (h *Handler) CreateOrder(ctx context.Context, req *ordersv1.CreateOrderRequest) (*ordersv1.CreateOrderResponse, error) {
	customerID := uuid.MustParse(req.GetCustomerId()) // protovalidate checked it is a UUID
	if err := owner(ctx, customerID); err != nil {
		return nil, err
	}
	// The caller is the customer, with their own access token: the token proves the customer
	// exists and is active (tokens of a customer deactivated since are refused before any
	// handler runs), so the saga does not ask customers again.
	r := order.Request{CustomerID: customerID, IdempotencyKey: req.GetIdempotencyKey(), PaymentMethod: req.GetPaymentMethod(), CustomerProven: true}
	for _, it := range req.GetItems() {
		r.Items = append(r.Items, order.Line{ProductID: uuid.MustParse(it.GetProductId()), Quantity: int64(it.GetQuantity())})
	}
	o, err := h.placer.Place(ctx, r)
	if err != nil {
		return nil, h.fail(ctx, "CreateOrder", err)
	}
	return &ordersv1.CreateOrderResponse{Order: toProto(o)}, nil
}

// GetOrder answers one order to its owner or an admin.
func (h *Handler) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	o, err := h.readable(ctx, req.GetOrderId())
	if err != nil {
		return nil, err
	}
	return &ordersv1.GetOrderResponse{Order: toProto(o)}, nil
}

// ListOrders pages through a customer's orders, newest first, for the customer or an admin.
func (h *Handler) ListOrders(ctx context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	customerID := uuid.MustParse(req.GetCustomerId())
	if err := ownerOrAdmin(ctx, customerID, errNoCustomer); err != nil {
		return nil, err
	}
	after, err := order.ParseToken(req.GetPageToken())
	if err != nil {
		return nil, h.fail(ctx, "ListOrders", err)
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	orders, next, err := h.reader.List(ctx, order.Page{CustomerID: customerID, Size: size, After: after})
	if err != nil {
		return nil, h.fail(ctx, "ListOrders", err)
	}
	res := &ordersv1.ListOrdersResponse{NextPageToken: next.Token()}
	for _, o := range orders {
		res.Orders = append(res.Orders, toProto(o))
	}
	return res, nil
}

// CancelOrder cancels a confirmed order for its owner or an admin.
func (h *Handler) CancelOrder(ctx context.Context, req *ordersv1.CancelOrderRequest) (*ordersv1.CancelOrderResponse, error) {
	o, err := h.readable(ctx, req.GetOrderId())
	if err != nil {
		return nil, err
	}
	if o, err = h.placer.Cancel(ctx, o.ID, req.GetReason()); err != nil {
		return nil, h.fail(ctx, "CancelOrder", err)
	}
	h.log.InfoContext(ctx, "order canceled", "order_id", o.ID, "reason", req.GetReason())
	return &ordersv1.CancelOrderResponse{Order: toProto(o)}, nil
}

// readable loads the order if the end user may see it: another customer's order is answered
// as a missing one.
func (h *Handler) readable(ctx context.Context, id string) (order.Order, error) {
	if _, err := endUser(ctx); err != nil {
		return order.Order{}, err
	}
	o, err := h.reader.Get(ctx, uuid.MustParse(id))
	if err != nil {
		return o, h.fail(ctx, "read order", err)
	}
	if err := ownerOrAdmin(ctx, o.CustomerID, order.ErrNotFound); err != nil {
		return order.Order{}, err
	}
	return o, nil
}
