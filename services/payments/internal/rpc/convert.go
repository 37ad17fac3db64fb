package rpc

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/services/payments/internal/payment"
)

var (
	statuses = map[payment.Status]paymentsv1.PaymentStatus{
		payment.Authorized: paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
		payment.Declined:   paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED,
		payment.Voided:     paymentsv1.PaymentStatus_PAYMENT_STATUS_VOIDED,
	}
	reasons = map[payment.DeclineReason]paymentsv1.DeclineReason{
		payment.CardDeclined:      paymentsv1.DeclineReason_DECLINE_REASON_CARD_DECLINED,
		payment.InsufficientFunds: paymentsv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS,
		payment.AmountTooLarge:    paymentsv1.DeclineReason_DECLINE_REASON_AMOUNT_TOO_LARGE,
	}
)

func toPayment(p payment.Payment) *paymentsv1.Payment {
	return &paymentsv1.Payment{
		PaymentId:     p.ID.String(),
		OrderId:       p.OrderID.String(),
		CustomerId:    p.CustomerID.String(),
		Amount:        &moneyv1.Money{AmountMinor: p.Amount.AmountMinor, Currency: p.Amount.Currency},
		Status:        statuses[p.Status],
		DeclineReason: reasons[p.DeclineReason],
		CreateTime:    timestamppb.New(p.CreateTime),
		UpdateTime:    timestamppb.New(p.UpdateTime),
	}
}
