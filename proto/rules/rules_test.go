package rules_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	xdsv1 "mercato.dev/proto/gen/go/mercato/xds/v1"
)

const (
	customerID = "0b3d4c52-8f0e-4c1f-9a57-3c1e6f0f2a11"
	orderID    = "5f9a7c1e-2d4b-4e8a-b6c3-9d0e1f2a3b4c"
	productA   = "7c2e9b1a-3f4d-4a5b-8c6d-1e2f3a4b5c6d"
	productB   = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b"
)

func eur(amount int64) *moneyv1.Money {
	return &moneyv1.Money{AmountMinor: amount, Currency: "EUR"}
}

func validOrder() *ordersv1.CreateOrderRequest {
	return &ordersv1.CreateOrderRequest{
		CustomerId:     customerID,
		IdempotencyKey: "checkout-2024-0001",
		Items: []*ordersv1.CreateOrderRequest_Item{
			{ProductId: productA, Quantity: 2},
			{ProductId: productB, Quantity: 1},
		},
		PaymentMethod: "pm_card_visa",
	}
}

// violations returns the field paths that msg violates, each followed by
// " [rule id]" when the rule is a named CEL rule (message-level rules have an
// empty path). Nil means msg is valid.
func violations(t *testing.T, validator protovalidate.Validator, msg proto.Message) []string {
	t.Helper()
	err := validator.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate(%T) = %v, want a *protovalidate.ValidationError", msg, err)
	}
	var got []string
	for _, v := range verr.Violations {
		entry := protovalidate.FieldPathString(v.Proto.GetField())
		if id := v.Proto.GetRuleId(); slices.Contains(celRuleIDs, id) {
			entry += " [" + id + "]"
		}
		got = append(got, entry)
	}
	slices.Sort(got)
	return got
}

// celRuleIDs are the custom rules written in our protos.
var celRuleIDs = []string{
	"create_order.unique_products",
	"reserve_stock.unique_products",
	"update_customer.at_least_one_field",
	"update_product.at_least_one_field",
	"string.no_nul",
	"money.currency",
}

func TestRules(t *testing.T) {
	t.Parallel()
	validator, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  proto.Message
		want []string // sorted; nil for a valid message
	}{
		// orders
		{name: "valid order", msg: validOrder()},
		{
			name: "order with bad customer UUID and zero quantity",
			msg: func() proto.Message {
				m := validOrder()
				m.CustomerId = "not-a-uuid"
				m.Items[0].Quantity = 0
				return m
			}(),
			want: []string{"customer_id", "items[0].quantity"},
		},
		{
			name: "order with short idempotency key, no items, bad payment method",
			msg: func() proto.Message {
				m := validOrder()
				m.IdempotencyKey = "short"
				m.Items = nil
				m.PaymentMethod = "visa"
				return m
			}(),
			want: []string{"idempotency_key", "items", "payment_method"},
		},
		{
			name: "order naming a product twice, quantity above 1000",
			msg: func() proto.Message {
				m := validOrder()
				m.Items[1].ProductId = productA
				m.Items[1].Quantity = 1001
				return m
			}(),
			want: []string{"items [create_order.unique_products]", "items[1].quantity"},
		},
		{
			name: "order naming a product twice, in upper and lower case",
			msg: func() proto.Message {
				m := validOrder()
				m.Items[1].ProductId = strings.ToUpper(productA)
				return m
			}(),
			want: []string{"items [create_order.unique_products]"},
		},
		{
			name: "order with NUL in the idempotency key",
			msg: func() proto.Message {
				m := validOrder()
				m.IdempotencyKey = "checkout\x00-0001"
				return m
			}(),
			want: []string{"idempotency_key [string.no_nul]"},
		},
		{
			name: "cancel order with NUL in the reason",
			msg:  &ordersv1.CancelOrderRequest{OrderId: orderID, Reason: "changed\x00mind"},
			want: []string{"reason [string.no_nul]"},
		},
		{
			name: "list orders with NUL in the page token",
			msg:  &ordersv1.ListOrdersRequest{CustomerId: customerID, PageToken: "\x00"},
			want: []string{"page_token [string.no_nul]"},
		},
		{
			name: "list notifications with NUL in the page token",
			msg:  &notificationsv1.ListNotificationsRequest{CustomerId: customerID, PageToken: "\x00"},
			want: []string{"page_token [string.no_nul]"},
		},
		{
			name: "order with 51 items",
			msg: func() proto.Message {
				m := validOrder()
				m.Items = make([]*ordersv1.CreateOrderRequest_Item, 51)
				for i := range m.Items {
					m.Items[i] = &ordersv1.CreateOrderRequest_Item{ProductId: productA, Quantity: 1}
				}
				return m
			}(),
			// Too many, and (all the same product) not unique.
			want: []string{"items", "items [create_order.unique_products]"},
		},
		{
			name: "list orders with page size 101 and huge token",
			msg: &ordersv1.ListOrdersRequest{
				CustomerId: customerID, PageSize: 101, PageToken: strings.Repeat("a", 513),
			},
			want: []string{"page_size", "page_token"},
		},
		{name: "list orders, server default page size", msg: &ordersv1.ListOrdersRequest{CustomerId: customerID}},
		{name: "cancel order without reason", msg: &ordersv1.CancelOrderRequest{OrderId: orderID}},

		// customers
		{
			name: "valid sign-up",
			msg:  &customersv1.CreateCustomerRequest{Email: "ada@example.com", Password: "correct horse", DisplayName: "Ada"},
		},
		{
			name: "sign-up with bad email, short password, empty name",
			msg:  &customersv1.CreateCustomerRequest{Email: "ada.example.com", Password: "short"},
			want: []string{"display_name", "email", "password"},
		},
		{
			name: "sign-up with NUL in email, password and name",
			msg:  &customersv1.CreateCustomerRequest{Email: "ada\x00@example.com", Password: "correct\x00horse", DisplayName: "A\x00da"},
			want: []string{"display_name [string.no_nul]", "email", "password [string.no_nul]"},
		},
		{
			name: "sign-in with NUL in the password",
			msg:  &customersv1.SignInRequest{Email: "ada@example.com", Password: "correct horse\x00"},
			want: []string{"password [string.no_nul]"},
		},
		{
			name: "update customer with NUL in name and email",
			msg:  &customersv1.UpdateCustomerRequest{CustomerId: customerID, DisplayName: proto.String("\x00"), Email: proto.String("a@b.c\x00")},
			want: []string{"display_name [string.no_nul]", "email"},
		},
		{
			name: "update customer setting nothing",
			msg:  &customersv1.UpdateCustomerRequest{CustomerId: customerID},
			want: []string{" [update_customer.at_least_one_field]"},
		},
		{
			name: "update customer email only",
			msg:  &customersv1.UpdateCustomerRequest{CustomerId: customerID, Email: proto.String("ada@example.org")},
		},
		{
			name: "update customer to an empty display name",
			msg:  &customersv1.UpdateCustomerRequest{CustomerId: customerID, DisplayName: proto.String("")},
			want: []string{"display_name"},
		},

		// inventory
		{
			name: "valid product",
			msg:  &inventoryv1.CreateProductRequest{Sku: "MUG-001", Name: "Mug", Price: eur(1299), InitialStock: 10},
		},
		{
			name: "product with lower-case SKU and no price",
			msg:  &inventoryv1.CreateProductRequest{Sku: "mug-001", Name: "Mug"},
			want: []string{"price", "sku"},
		},
		{
			name: "product with negative price in a lower-case currency",
			msg: &inventoryv1.CreateProductRequest{
				Sku: "MUG-001", Name: "Mug", Price: &moneyv1.Money{AmountMinor: -1, Currency: "eur"},
			},
			want: []string{"price.amount_minor", "price.currency [money.currency]"},
		},
		{
			name: "product in three letters that are no currency",
			msg:  &inventoryv1.CreateProductRequest{Sku: "MUG-001", Name: "Mug", Price: &moneyv1.Money{AmountMinor: 1, Currency: "ABC"}},
			want: []string{"price.currency [money.currency]"},
		},
		{
			name: "product priced in gold (XAU: ISO 4217, not money here)",
			msg:  &inventoryv1.CreateProductRequest{Sku: "MUG-001", Name: "Mug", Price: &moneyv1.Money{AmountMinor: 1, Currency: "XAU"}},
			want: []string{"price.currency [money.currency]"},
		},
		{
			name: "product priced in XOF",
			msg:  &inventoryv1.UpdateProductRequest{ProductId: productA, Price: &moneyv1.Money{AmountMinor: 1, Currency: "XOF"}},
		},
		{
			name: "product with NUL in name and description",
			msg:  &inventoryv1.CreateProductRequest{Sku: "MUG-001", Name: "Mu\x00g", Description: "\x00", Price: eur(1)},
			want: []string{"description [string.no_nul]", "name [string.no_nul]"},
		},
		{
			name: "product update with NUL in name and description",
			msg:  &inventoryv1.UpdateProductRequest{ProductId: productA, Name: proto.String("a\x00"), Description: proto.String("b\x00")},
			want: []string{"description [string.no_nul]", "name [string.no_nul]"},
		},
		{
			name: "adjust stock with NUL in the reason",
			msg:  &inventoryv1.AdjustStockRequest{ProductId: productA, Delta: 1, Reason: "found\x00"},
			want: []string{"reason [string.no_nul]"},
		},
		{
			name: "list products with NUL in the page token",
			msg:  &inventoryv1.ListProductsRequest{PageToken: "abc\x00"},
			want: []string{"page_token [string.no_nul]"},
		},
		{
			name: "update product setting nothing",
			msg:  &inventoryv1.UpdateProductRequest{ProductId: productA},
			want: []string{" [update_product.at_least_one_field]"},
		},
		{
			name: "adjust stock by zero",
			msg:  &inventoryv1.AdjustStockRequest{ProductId: productA, Delta: 0, Reason: "count"},
			want: []string{"delta"},
		},
		{
			name: "adjust stock down",
			msg:  &inventoryv1.AdjustStockRequest{ProductId: productA, Delta: -3, Reason: "broken"},
		},
		{
			name: "reserve the same product twice",
			msg: &inventoryv1.ReserveStockRequest{OrderId: orderID, Items: []*inventoryv1.ReservationItem{
				{ProductId: productA, Quantity: 1}, {ProductId: productA, Quantity: 2},
			}},
			want: []string{"items [reserve_stock.unique_products]"},
		},
		{
			name: "reserve the same product twice, in upper and lower case",
			msg: &inventoryv1.ReserveStockRequest{OrderId: orderID, Items: []*inventoryv1.ReservationItem{
				{ProductId: productA, Quantity: 1}, {ProductId: strings.ToUpper(productA), Quantity: 2},
			}},
			want: []string{"items [reserve_stock.unique_products]"},
		},
		{
			name: "list products with negative page size",
			msg:  &inventoryv1.ListProductsRequest{PageSize: -1},
			want: []string{"page_size"},
		},

		// payments
		{
			name: "valid authorization",
			msg: &paymentsv1.AuthorizePaymentRequest{
				OrderId: orderID, CustomerId: customerID, Amount: eur(2598), PaymentMethod: "pm_card_declined",
			},
		},
		{
			name: "authorization without amount",
			msg:  &paymentsv1.AuthorizePaymentRequest{OrderId: orderID, CustomerId: customerID, PaymentMethod: "pm_card_visa"},
			want: []string{"amount"},
		},
		{
			name: "get payment by nothing",
			msg:  &paymentsv1.GetPaymentRequest{},
			want: []string{"lookup"},
		},
		{
			name: "get payment by order",
			msg:  &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: orderID}},
		},

		// notifications
		{
			name: "list notifications for a bad customer ID",
			msg:  &notificationsv1.ListNotificationsRequest{CustomerId: "42"},
			want: []string{"customer_id"},
		},

		// xds registration
		{
			name: "valid registration",
			msg:  &xdsv1.RegisterRequest{Cluster: "orders", Host: "127.0.0.1", Port: 8103},
		},
		{
			name: "registration with bad cluster, host and port",
			msg:  &xdsv1.RegisterRequest{Cluster: "Orders!", Host: "not a host", Port: 0, InstanceId: proto.String("")},
			want: []string{"cluster", "host", "instance_id", "port"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := violations(t, validator, tt.msg); !slices.Equal(got, tt.want) {
				t.Errorf("violations = %q, want %q", got, tt.want)
			}
		})
	}
}
