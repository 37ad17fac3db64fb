// Package rpc serves the OrderService API: thin Connect handlers that check the end user's
// right to the order (owner; admins may read and cancel any), call one use case, and map its
// outcome to the API once. Business outcomes of placing an order are data (the order in its
// state); database failures never reach callers — they are logged and answered by server.Unexpected:
// unavailable or aborted when a retry may work (the idempotency key makes it safe), else internal.
package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"

	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

// Placer places and cancels orders (the saga).
type Placer interface {
	Place(ctx context.Context, r order.Request) (order.Order, error)
	Cancel(ctx context.Context, id uuid.UUID, reason string) (order.Order, error)
}

// Reader reads orders (the store).
type Reader interface {
	Get(ctx context.Context, id uuid.UUID) (order.Order, error)
	List(ctx context.Context, p order.Page) ([]order.Order, order.Cursor, error)
}

// Handler implements ordersv1connect.OrderServiceHandler.
type Handler struct {
	placer Placer
	reader Reader
	log    *slog.Logger
}

var _ ordersv1connect.OrderServiceHandler = (*Handler)(nil)

// New returns the OrderService handler.
func New(p Placer, r Reader, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{placer: p, reader: r, log: log}
}

// Rules is who may call each OrderService method, per the architecture's table: only the edge,
// on behalf of an end user whose claims it forwards (the handlers check owner and admin).
func Rules() authz.Rules {
	edge := authz.Allow(identity.Edge)
	return authz.Rules{
		ordersv1connect.OrderServiceCreateOrderProcedure: edge,
		ordersv1connect.OrderServiceGetOrderProcedure:    edge,
		ordersv1connect.OrderServiceListOrdersProcedure:  edge,
		ordersv1connect.OrderServiceCancelOrderProcedure: edge,
	}
}

// Register mounts h on srv with its rules.
func Register(srv *server.Server, h *Handler) {
	path, handler := ordersv1connect.NewOrderServiceHandler(h, srv.HandlerOptions()...)
	srv.Handle(path, handler, Rules())
}

// errDenied answers a call that carries no end user, and a customer ordering for another.
func errDenied() error {
	return connect.NewError(connect.CodePermissionDenied, errors.New("not allowed for this user"))
}

// errHidden answers an end user who asks for another customer's orders: as if they did not
// exist (the same answer as a missing order), so that IDs cannot be probed.
func errHidden(what error) error { return connect.NewError(connect.CodeNotFound, what) }

// errNoCustomer is what ListOrders hides another customer's orders behind.
var errNoCustomer = errors.New("customer not found")

// owner checks that the end user is the customer: placing an order authorizes a payment on the
// customer's payment method under the customer's idempotency keys, which only the customer
// does — admins included, they order for themselves only.
func owner(ctx context.Context, customerID uuid.UUID) error {
	c, ok := claims.From(ctx)
	if !ok || c.Subject == "" || !equalID(c.Subject, customerID) {
		return errDenied()
	}
	return nil
}

// endUser checks, before any lookup, that the call carries an end user.
func endUser(ctx context.Context) (claims.Claims, error) {
	c, ok := claims.From(ctx)
	if !ok {
		return claims.Claims{}, errDenied()
	}
	return c, nil
}

// ownerOrAdmin checks that the end user is the customer or an admin; another customer gets
// hidden, the answer for a resource that does not exist.
func ownerOrAdmin(ctx context.Context, customerID uuid.UUID, hidden error) error {
	c, err := endUser(ctx)
	if err != nil {
		return err
	}
	if !c.CanActFor(customerID.String()) {
		return errHidden(hidden)
	}
	return nil
}

func equalID(s string, id uuid.UUID) bool {
	u, err := uuid.Parse(s)
	return err == nil && u == id
}

// fail maps a use case's error to the API, once.
func (h *Handler) fail(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, order.ErrNotFound):
		return errHidden(order.ErrNotFound)
	case errors.Is(err, order.ErrKeyReused), errors.Is(err, order.ErrNotCancelable), errors.Is(err, order.ErrStillPending):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, order.ErrBadPageToken):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, saga.ErrCanceling):
		return connect.NewError(connect.CodeUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("canceled"))
	}
	h.log.ErrorContext(ctx, op+" failed", "error", err.Error())
	return server.Unexpected(err)
}
