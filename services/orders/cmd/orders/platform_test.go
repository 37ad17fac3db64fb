package main_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// The platform under test: the real binaries of customers, inventory, payments and orders,
// each with its own database, talking mTLS with SVIDs from the test's issuer, and publishing
// their events to the platform's broker (mTLS, per-identity permissions) run by the test (never
// the local stack's). The test
// process holds the edge's identity and calls as the edge does, forwarding end-user claims.

const ordersPkg = "mercato.dev/services/orders/cmd/orders"

var (
	ordersSvc    = identity.Service("orders")
	inventorySvc = identity.Service("inventory")
	paymentsSvc  = identity.Service("payments")
	customersSvc = identity.Service("customers")
	adminClaims  = claims.Claims{Subject: uuid.NewString(), Roles: []string{claims.RoleCustomer, claims.RoleAdmin}}
)

type platform struct {
	t                                      *testing.T
	env                                    *kittest.Env
	broker                                 *eventstest.Broker
	natsURL                                string
	customers, inventory, payments, orders *kittest.Process
}

// setup chooses the platform's databases, broker, and the orders binary and its settings.
type setup struct {
	ordersDB, inventoryDB string            // database URLs; empty: SQLite in the data directory
	ordersBin             string            // empty: the plain build
	ordersEnv             map[string]string // extra settings of orders
	notificationsBin      string            // events tests: empty for the plain build
	notificationsEnv      map[string]string // events tests: extra settings of notifications
	svidTTL               time.Duration     // lifetime of every SVID; 0: the issuer's default (1h)
}

func startPlatform(t *testing.T, s setup) *platform {
	t.Helper()
	var opts []kittest.Option
	if s.svidTTL > 0 {
		opts = append(opts, kittest.WithSVIDTTL(s.svidTTL))
	}
	p := &platform{t: t, env: kittest.Start(t, []spiffeid.ID{identity.Edge}, opts...)}
	p.broker = eventstest.StartBroker(t, p.env, "", 0)
	p.natsURL = p.broker.URL()
	p.customers = p.env.StartService(t, "customers", kittest.Build(t, "mercato.dev/services/customers/cmd/customers"), map[string]string{
		"CUSTOMERS_ARGON2_MEMORY_KIB": "8192", "LOG_LEVEL": "warn",
	})
	p.inventory = p.env.StartService(t, "inventory", kittest.Build(t, "mercato.dev/services/inventory/cmd/inventory"), withDB("INVENTORY", s.inventoryDB, nil))
	p.payments = p.env.StartService(t, "payments", kittest.Build(t, "mercato.dev/services/payments/cmd/payments"), map[string]string{
		"LOG_LEVEL": "warn", "NATS_URL": p.natsURL,
	})
	if s.ordersBin == "" {
		s.ordersBin = kittest.Build(t, ordersPkg)
	}
	p.orders = p.startOrders(s.ordersBin, withDB("ORDERS", s.ordersDB, s.ordersEnv))
	return p
}

// startOrders starts an orders process wired to the platform's services; called again with
// the same database it is a restart (new ports, same data).
func (p *platform) startOrders(bin string, env map[string]string) *kittest.Process {
	p.t.Helper()
	vars := map[string]string{
		"CUSTOMERS_ADDR": p.customers.Addr, "INVENTORY_ADDR": p.inventory.Addr, "PAYMENTS_ADDR": p.payments.Addr,
		"LOG_LEVEL": "info", "ORDERS_RECOVER_EVERY": "200ms", "NATS_URL": p.natsURL,
	}
	for k, v := range env {
		vars[k] = v
	}
	return p.env.StartService(p.t, "orders", bin, vars)
}

func withDB(service, url string, env map[string]string) map[string]string {
	out := map[string]string{"LOG_LEVEL": "warn"}
	for k, v := range env {
		out[k] = v
	}
	if url != "" {
		out[service+"_DATABASE_URL"] = url
	}
	return out
}

// ordersAs is an OrderService client of the edge forwarding c's claims.
func (p *platform) ordersAs(c claims.Claims) ordersv1connect.OrderServiceClient {
	return p.ordersAt(p.orders, c)
}

func (p *platform) ordersAt(proc *kittest.Process, c claims.Claims) ordersv1connect.OrderServiceClient {
	return ordersv1connect.NewOrderServiceClient(p.env.HTTPClient(p.t, identity.Edge, ordersSvc), "https://"+proc.Addr,
		connect.WithInterceptors(withClaims(c)))
}

func (p *platform) inventoryAdmin() inventoryv1connect.InventoryServiceClient {
	return inventoryv1connect.NewInventoryServiceClient(p.env.HTTPClient(p.t, identity.Edge, inventorySvc), "https://"+p.inventory.Addr,
		connect.WithInterceptors(withClaims(adminClaims)))
}

func (p *platform) paymentsAdmin() paymentsv1connect.PaymentServiceClient {
	return paymentsv1connect.NewPaymentServiceClient(p.env.HTTPClient(p.t, identity.Edge, paymentsSvc), "https://"+p.payments.Addr,
		connect.WithInterceptors(withClaims(adminClaims)))
}

// customer signs a new customer up (anonymously, through the edge) and returns their claims.
func (p *platform) customer() claims.Claims {
	p.t.Helper()
	c := customersv1connect.NewCustomerServiceClient(p.env.HTTPClient(p.t, identity.Edge, customersSvc), "https://"+p.customers.Addr)
	res, err := c.CreateCustomer(p.t.Context(), &customersv1.CreateCustomerRequest{
		Email: "c-" + uuid.NewString()[:8] + "@example.com", Password: "correct horse battery", DisplayName: "Test Customer",
	})
	if err != nil {
		p.t.Fatalf("create customer: %v", err)
	}
	return claims.Claims{Subject: res.GetCustomer().GetCustomerId(), Roles: res.GetCustomer().GetRoles()}
}

// product creates a product priced 10.00 EUR with stock units and returns its ID.
func (p *platform) product(stock int64) string {
	p.t.Helper()
	res, err := p.inventoryAdmin().CreateProduct(p.t.Context(), &inventoryv1.CreateProductRequest{
		Sku: "SKU-" + strings.ToUpper(uuid.NewString()[:13]), Name: "Widget",
		Price: &moneyv1.Money{AmountMinor: 1000, Currency: "EUR"}, InitialStock: stock,
	})
	if err != nil {
		p.t.Fatalf("create product: %v", err)
	}
	return res.GetProduct().GetProductId()
}

func (p *platform) available(product string) int64 {
	p.t.Helper()
	res, err := p.inventoryAdmin().GetProduct(p.t.Context(), &inventoryv1.GetProductRequest{ProductId: product})
	if err != nil {
		p.t.Fatalf("get product: %v", err)
	}
	return res.GetProduct().GetAvailable()
}

// payment is the order's payment, or nil when payments has none.
func (p *platform) payment(orderID string) *paymentsv1.Payment {
	p.t.Helper()
	res, err := p.paymentsAdmin().GetPayment(p.t.Context(), &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: orderID}})
	if connect.CodeOf(err) == connect.CodeNotFound {
		return nil
	}
	if err != nil {
		p.t.Fatalf("get payment: %v", err)
	}
	return res.GetPayment()
}

// settle polls GetOrder until the order is no longer pending, at most within.
func settle(t *testing.T, c ordersv1connect.OrderServiceClient, id string, within time.Duration) *ordersv1.Order {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		res, err := c.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: id})
		if err != nil {
			t.Fatalf("get order: %v", err)
		}
		if o := res.GetOrder(); o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still pending after %s", id, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createRequest(customer claims.Claims, product string, quantity int32, method string) *ordersv1.CreateOrderRequest {
	return &ordersv1.CreateOrderRequest{
		CustomerId: customer.Subject, IdempotencyKey: uuid.NewString(), PaymentMethod: method,
		Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: product, Quantity: quantity}},
	}
}

func create(t *testing.T, c ordersv1connect.OrderServiceClient, req *ordersv1.CreateOrderRequest, timeout time.Duration) (*ordersv1.Order, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	res, err := c.CreateOrder(ctx, req)
	return res.GetOrder(), err
}

func withClaims(c claims.Claims) connect.UnaryInterceptorFunc {
	header := claims.Encode(c)
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(claims.Header, header)
			return next(ctx, req)
		}
	}
}

func describe(o *ordersv1.Order) string {
	return fmt.Sprintf("%s %s %s", o.GetOrderId(), o.GetStatus(), o.GetRejectReason())
}
