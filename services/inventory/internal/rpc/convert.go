package rpc

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	"mercato.dev/services/inventory/internal/stock"
)

func toProduct(p stock.Product) *inventoryv1.Product {
	return &inventoryv1.Product{
		ProductId:   p.ID.String(),
		Sku:         p.SKU,
		Name:        p.Name,
		Description: p.Description,
		Price:       &moneyv1.Money{AmountMinor: p.Price.AmountMinor, Currency: p.Price.Currency},
		Available:   p.Available,
		CreateTime:  timestamppb.New(p.CreateTime),
		UpdateTime:  timestamppb.New(p.UpdateTime),
	}
}

func fromMoney(m *moneyv1.Money) stock.Money {
	return stock.Money{AmountMinor: m.GetAmountMinor(), Currency: m.GetCurrency()}
}

func toReservation(r stock.Reservation) *inventoryv1.Reservation {
	out := &inventoryv1.Reservation{OrderId: r.OrderID.String(), State: toState(r.State)}
	if !r.CreateTime.IsZero() {
		out.CreateTime = timestamppb.New(r.CreateTime)
		out.UpdateTime = timestamppb.New(r.UpdateTime)
	}
	for _, it := range r.Items {
		item := &inventoryv1.ReservationItem{ProductId: it.ProductID.String(), Quantity: int32(it.Quantity)}
		if it.UnitPrice.Currency != "" {
			item.UnitPrice = &moneyv1.Money{AmountMinor: it.UnitPrice.AmountMinor, Currency: it.UnitPrice.Currency}
		}
		out.Items = append(out.Items, item)
	}
	return out
}

func toState(s stock.State) inventoryv1.ReservationState {
	switch s {
	case stock.Reserved:
		return inventoryv1.ReservationState_RESERVATION_STATE_RESERVED
	case stock.Released:
		return inventoryv1.ReservationState_RESERVATION_STATE_RELEASED
	}
	return inventoryv1.ReservationState_RESERVATION_STATE_UNSPECIFIED
}
