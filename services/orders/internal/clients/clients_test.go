package clients_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/client"

	"mercato.dev/services/orders/internal/clients"
	"mercato.dev/services/orders/internal/order"
	"mercato.dev/services/orders/internal/saga"
)

// serve returns a function that runs a Connect handler (path, handler) over plain HTTP and
// returns a connection to it.
func serve(t *testing.T) func(string, http.Handler) *client.Conn {
	return func(path string, h http.Handler) *client.Conn {
		mux := http.NewServeMux()
		mux.Handle(path, h)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return &client.Conn{HTTPClient: srv.Client(), BaseURL: srv.URL}
	}
}

type customers struct {
	customersv1connect.UnimplementedCustomerServiceHandler
	status customersv1.CustomerStatus
	err    error
}

func (c customers) GetCustomer(context.Context, *customersv1.GetCustomerRequest) (*customersv1.GetCustomerResponse, error) {
	return &customersv1.GetCustomerResponse{Customer: &customersv1.Customer{Status: c.status}}, c.err
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    customers
		want error // nil, a saga sentinel, or errOther
	}{
		{"active", customers{status: customersv1.CustomerStatus_CUSTOMER_STATUS_ACTIVE}, nil},
		{"inactive", customers{status: customersv1.CustomerStatus_CUSTOMER_STATUS_INACTIVE}, saga.ErrCustomerInactive},
		{"not found", customers{err: connect.NewError(connect.CodeNotFound, nil)}, saga.ErrCustomerNotFound},
		{"unavailable", customers{err: connect.NewError(connect.CodeUnavailable, nil)}, saga.ErrUnavailable},
		{"internal", customers{err: connect.NewError(connect.CodeInternal, nil)}, saga.ErrUnavailable},
		{"refused", customers{err: connect.NewError(connect.CodePermissionDenied, nil)}, errOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := clients.NewCustomers(serve(t)(customersv1connect.NewCustomerServiceHandler(tt.h)))
			check(t, c.CheckCustomer(t.Context(), uuid.New()), tt.want)
		})
	}
}

type inventory struct {
	inventoryv1connect.UnimplementedInventoryServiceHandler
	err error
}

// ReserveStock answers every item at 19.99 EUR, and one more product that was not asked for
// without a price.
func (i inventory) ReserveStock(_ context.Context, req *inventoryv1.ReserveStockRequest) (*inventoryv1.ReserveStockResponse, error) {
	r := &inventoryv1.Reservation{OrderId: req.GetOrderId()}
	for _, it := range req.GetItems() {
		r.Items = append(r.Items, &inventoryv1.ReservationItem{ProductId: it.GetProductId(), Quantity: it.GetQuantity(), UnitPrice: &moneyv1.Money{AmountMinor: 1999, Currency: "EUR"}})
	}
	r.Items = append(r.Items, &inventoryv1.ReservationItem{ProductId: unpriced.String(), Quantity: 1})
	return &inventoryv1.ReserveStockResponse{Reservation: r}, i.err
}

var unpriced = uuid.New()

func (i inventory) ReleaseStock(context.Context, *inventoryv1.ReleaseStockRequest) (*inventoryv1.ReleaseStockResponse, error) {
	return &inventoryv1.ReleaseStockResponse{}, i.err
}

func TestInventory(t *testing.T) {
	t.Parallel()
	product := uuid.New()
	short := connect.NewError(connect.CodeFailedPrecondition, errors.New("insufficient stock"))
	detail, err := connect.NewErrorDetail(&inventoryv1.InsufficientStock{ProductId: product.String(), Requested: 5, Available: 2})
	if err != nil {
		t.Fatal(err)
	}
	short.AddDetail(detail)
	items := []order.Item{{ProductID: product, Quantity: 5}}
	inv := func(t *testing.T, err error) *clients.Inventory {
		return clients.NewInventory(serve(t)(inventoryv1connect.NewInventoryServiceHandler(inventory{err: err})))
	}

	reserve := func(c *clients.Inventory) error {
		_, err := c.Reserve(t.Context(), uuid.New(), items)
		return err
	}
	t.Run("reserve", func(t *testing.T) {
		t.Parallel()
		prices, err := inv(t, nil).Reserve(t.Context(), uuid.New(), items)
		if err != nil || len(prices) != 1 || prices[product] != (order.Money{Amount: 1999, Currency: "EUR"}) {
			t.Errorf("reservation priced %v, %v; want %s at 1999 EUR and nothing else", prices, err, product)
		}
		_, err = inv(t, short).Reserve(t.Context(), uuid.New(), items)
		var oos *saga.OutOfStockError
		if !errors.As(err, &oos) || len(oos.Short) != 1 || oos.Short[0] != (saga.Shortage{ProductID: product, Requested: 5, Available: 2}) {
			t.Errorf("short reservation: %v (%+v)", err, oos)
		}
		check(t, err, saga.ErrOutOfStock)
		check(t, reserve(inv(t, connect.NewError(connect.CodeNotFound, nil))), saga.ErrProductNotFound)
		check(t, reserve(inv(t, connect.NewError(connect.CodeFailedPrecondition, nil))), errOther)
		check(t, reserve(inv(t, connect.NewError(connect.CodeDeadlineExceeded, nil))), saga.ErrUnavailable)
	})
	t.Run("release", func(t *testing.T) {
		t.Parallel()
		check(t, inv(t, connect.NewError(connect.CodeNotFound, nil)).Release(t.Context(), uuid.New()), nil)
		check(t, inv(t, connect.NewError(connect.CodeUnavailable, nil)).Release(t.Context(), uuid.New()), saga.ErrUnavailable)
	})
}

type payments struct {
	paymentsv1connect.UnimplementedPaymentServiceHandler
	status paymentsv1.PaymentStatus
	err    error
}

var paymentID = uuid.New()

func (p payments) AuthorizePayment(context.Context, *paymentsv1.AuthorizePaymentRequest) (*paymentsv1.AuthorizePaymentResponse, error) {
	return &paymentsv1.AuthorizePaymentResponse{Payment: &paymentsv1.Payment{PaymentId: paymentID.String(), Status: p.status}}, p.err
}

func (p payments) VoidPayment(context.Context, *paymentsv1.VoidPaymentRequest) (*paymentsv1.VoidPaymentResponse, error) {
	return &paymentsv1.VoidPaymentResponse{}, p.err
}

func TestPayments(t *testing.T) {
	t.Parallel()
	pay := func(t *testing.T, h payments) *clients.Payments {
		return clients.NewPayments(serve(t)(paymentsv1connect.NewPaymentServiceHandler(h)))
	}
	req := saga.Payment{OrderID: uuid.New(), CustomerID: uuid.New(), Amount: order.Money{Amount: 100, Currency: "EUR"}, Method: "pm_card_visa"}
	tests := []struct {
		name string
		h    payments
		want error
	}{
		{"authorized", payments{status: paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED}, nil},
		{"declined", payments{status: paymentsv1.PaymentStatus_PAYMENT_STATUS_DECLINED}, saga.ErrDeclined},
		{"voided already", payments{status: paymentsv1.PaymentStatus_PAYMENT_STATUS_VOIDED}, errOther},
		{"other amount", payments{err: connect.NewError(connect.CodeFailedPrecondition, nil)}, errOther},
		{"unavailable", payments{err: connect.NewError(connect.CodeUnavailable, nil)}, saga.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := pay(t, tt.h).Authorize(t.Context(), req)
			check(t, err, tt.want)
			if tt.want == nil && id != paymentID {
				t.Errorf("payment ID %s, want %s", id, paymentID)
			}
		})
	}
	t.Run("void", func(t *testing.T) {
		t.Parallel()
		check(t, pay(t, payments{err: connect.NewError(connect.CodeNotFound, nil)}).Void(t.Context(), uuid.New()), nil)
		check(t, pay(t, payments{err: connect.NewError(connect.CodeUnavailable, nil)}).Void(t.Context(), uuid.New()), saga.ErrUnavailable)
	})
}

// errOther stands for "an error that is neither a business outcome nor transient".
var errOther = errors.New("other")

func check(t *testing.T, err, want error) {
	t.Helper()
	sentinels := []error{saga.ErrCustomerNotFound, saga.ErrCustomerInactive, saga.ErrProductNotFound, saga.ErrOutOfStock, saga.ErrDeclined, saga.ErrUnavailable}
	switch want {
	case nil:
		if err != nil {
			t.Errorf("got %v, want success", err)
		}
	case errOther:
		if err == nil {
			t.Error("got success, want an error")
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				t.Errorf("got %v, which is %v; want neither an outcome nor transient", err, s)
			}
		}
	default:
		if !errors.Is(err, want) {
			t.Errorf("got %v, want %v", err, want)
		}
	}
}
