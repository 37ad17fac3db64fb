// Package rpc serves the PaymentService over Connect: thin handlers that call one use case of
// package payment, convert messages, and map domain errors to Connect codes. Who may call which
// method is declared here too (Rules), next to the registration.
package rpc

import (
	"log/slog"

	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"
	"mercato.dev/services/payments/internal/payment"
)

// Rules is the payments row of the architecture's authorization table. GetPayment from the
// edge also needs the claims of the paying customer or an admin, checked by the handler.
func Rules() authz.Rules {
	orders := identity.Service("orders")
	return authz.Rules{
		paymentsv1connect.PaymentServiceAuthorizePaymentProcedure: authz.Allow(orders),
		paymentsv1connect.PaymentServiceVoidPaymentProcedure:      authz.Allow(orders),
		paymentsv1connect.PaymentServiceGetPaymentProcedure:       authz.Allow(orders, identity.Edge),
	}
}

// Handler implements paymentsv1connect.PaymentServiceHandler.
type Handler struct {
	payments *payment.Payments
	logger   *slog.Logger
}

var _ paymentsv1connect.PaymentServiceHandler = (*Handler)(nil)

// New returns the handlers of ps; logger records the internal errors clients never see.
func New(ps *payment.Payments, logger *slog.Logger) *Handler {
	return &Handler{payments: ps, logger: logger}
}

// Register mounts the service on srv with its authorization rules.
func Register(srv *server.Server, h *Handler) {
	path, handler := paymentsv1connect.NewPaymentServiceHandler(h, srv.HandlerOptions()...)
	srv.Handle(path, handler, Rules())
}
