package rpc

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"

	"mercato.dev/services/orders/internal/order"
)

var statuses = map[order.Status]ordersv1.OrderStatus{
	order.StatusPending:   ordersv1.OrderStatus_ORDER_STATUS_PENDING,
	order.StatusConfirmed: ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED,
	order.StatusRejected:  ordersv1.OrderStatus_ORDER_STATUS_REJECTED,
	order.StatusCanceled:  ordersv1.OrderStatus_ORDER_STATUS_CANCELED,
}

// reason is the API's enum value of r: the domain's reasons are named after it.
func reason(r order.Reason) ordersv1.RejectReason {
	return ordersv1.RejectReason(ordersv1.RejectReason_value[string(r)])
}

func toProto(o order.Order) *ordersv1.Order {
	out := &ordersv1.Order{
		OrderId:    o.ID.String(),
		CustomerId: o.CustomerID.String(),
		Status:     statuses[o.Status],
		CreateTime: timestamppb.New(o.CreateTime),
		UpdateTime: timestamppb.New(o.UpdateTime),
	}
	for _, it := range o.Items {
		item := &ordersv1.OrderItem{ProductId: it.ProductID.String(), Quantity: int32(it.Quantity)}
		if o.Priced() {
			item.UnitPrice = money(it.UnitPrice, o.Total.Currency)
			item.LineTotal = money(it.LineTotal(), o.Total.Currency)
		}
		out.Items = append(out.Items, item)
	}
	if o.Priced() {
		out.Total = money(o.Total.Amount, o.Total.Currency)
	}
	if o.Status == order.StatusRejected {
		out.RejectReason = reason(o.Reason)
		out.RejectMessage = o.Reason.Message()
	}
	if o.PaymentID != nil {
		out.PaymentId = o.PaymentID.String()
	}
	out.CancelReason = o.CancelReason
	return out
}

func money(amount int64, currency string) *moneyv1.Money {
	return &moneyv1.Money{AmountMinor: amount, Currency: currency}
}
