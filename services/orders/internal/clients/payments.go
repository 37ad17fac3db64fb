package clients

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/client"

	"mercato.dev/services/orders/internal/saga"
)

// Payments authorizes and voids order payments through the payments service.
type Payments struct {
	c paymentsv1connect.PaymentServiceClient
}

var _ saga.Payments = (*Payments)(nil)

// NewPayments returns the adapter over a connection to payments.
func NewPayments(conn *client.Conn) *Payments {
	return &Payments{c: paymentsv1connect.NewPaymentServiceClient(conn.HTTPClient, conn.BaseURL, conn.Options()...)}
}

// Authorize asks for the order's payment; a decline is saga.ErrDeclined.
func (p *Payments) Authorize(ctx context.Context, pay saga.Payment) (uuid.UUID, error) {
	res, err := p.c.AuthorizePayment(ctx, &paymentsv1.AuthorizePaymentRequest{
		OrderId:       pay.OrderID.String(),
		CustomerId:    pay.CustomerID.String(),
		Amount:        &moneyv1.Money{AmountMinor: pay.Amount.Amount, Currency: pay.Amount.Currency},
		PaymentMethod: pay.Method,
	})
	if err != nil {
		return uuid.Nil, fail("payments.AuthorizePayment", err)
	}
	payment := res.GetPayment()
	switch payment.GetStatus() {
	case paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:
		id, err := uuid.Parse(payment.GetPaymentId())
		if err != nil {
			return uuid.Nil, fmt.Errorf("payments.AuthorizePayment: payment ID %q: %w", payment.GetPaymentId(), err)
		}
		return id, nil
	case paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED:
		return uuid.Nil, fmt.Errorf("%w: %s", saga.ErrDeclined, payment.GetDeclineReason())
	}
	return uuid.Nil, fmt.Errorf("payments.AuthorizePayment: payment is %s", payment.GetStatus())
}

// Void cancels the order's payment; an order with no payment has nothing to void.
func (p *Payments) Void(ctx context.Context, orderID uuid.UUID) error {
	_, err := p.c.VoidPayment(ctx, &paymentsv1.VoidPaymentRequest{OrderId: orderID.String()})
	if err == nil || isCode(err, connect.CodeNotFound) {
		return nil
	}
	return fail("payments.VoidPayment", err)
}
