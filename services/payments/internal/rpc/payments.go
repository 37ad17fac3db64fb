package rpc

import (
	"context"

	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/services/payments/internal/payment"
)

// AuthorizePayment decides an order's payment once; a decline is a payment, not an error.
func (h *Handler) AuthorizePayment(ctx context.Context, req *paymentsv1.AuthorizePaymentRequest) (*paymentsv1.AuthorizePaymentResponse, error) {
	order, err := parseID("order_id", req.GetOrderId())
	if err != nil {
		return nil, err
	}
	customer, err := parseID("customer_id", req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	p, err := h.payments.Authorize(ctx, payment.Request{
		OrderID: order, CustomerID: customer, Method: req.GetPaymentMethod(),
		Amount: payment.Money{AmountMinor: req.GetAmount().GetAmountMinor(), Currency: req.GetAmount().GetCurrency()},
	})
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &paymentsv1.AuthorizePaymentResponse{Payment: toPayment(p)}, nil
}

// VoidPayment cancels an order's authorization, once.
func (h *Handler) VoidPayment(ctx context.Context, req *paymentsv1.VoidPaymentRequest) (*paymentsv1.VoidPaymentResponse, error) {
	order, err := parseID("order_id", req.GetOrderId())
	if err != nil {
		return nil, err
	}
	p, err := h.payments.Void(ctx, order)
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	return &paymentsv1.VoidPaymentResponse{Payment: toPayment(p)}, nil
}

// GetPayment returns a payment by its ID or its order's, to orders, or through the edge to
// the paying customer or an admin.
func (h *Handler) GetPayment(ctx context.Context, req *paymentsv1.GetPaymentRequest) (*paymentsv1.GetPaymentResponse, error) {
	if err := mayReadPayments(ctx); err != nil {
		return nil, err
	}
	p, err := h.lookup(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := mayRead(ctx, p); err != nil {
		return nil, err
	}
	return &paymentsv1.GetPaymentResponse{Payment: toPayment(p)}, nil
}

func (h *Handler) lookup(ctx context.Context, req *paymentsv1.GetPaymentRequest) (payment.Payment, error) {
	var (
		p   payment.Payment
		err error
	)
	if req.GetOrderId() != "" {
		order, perr := parseID("order_id", req.GetOrderId())
		if perr != nil {
			return payment.Payment{}, perr
		}
		p, err = h.payments.ByOrder(ctx, order)
	} else {
		id, perr := parseID("payment_id", req.GetPaymentId())
		if perr != nil {
			return payment.Payment{}, perr
		}
		p, err = h.payments.ByID(ctx, id)
	}
	if err != nil {
		return payment.Payment{}, h.fail(ctx, err)
	}
	return p, nil
}
