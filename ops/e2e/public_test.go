package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
)

// scenario calls public methods with one caller, recording which and how long each took.
type scenario struct {
	t      *testing.T
	c      caller
	called map[string][]time.Duration
}

func (s *scenario) call(token, procedure string, req, res proto.Message) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(withToken(context.Background(), token), 15*time.Second)
	defer cancel()
	start := time.Now()
	err := s.c.Call(ctx, procedure, req, res)
	s.called[procedure] = append(s.called[procedure], time.Since(start))
	if err != nil {
		s.t.Fatalf("%s %s: %v (code %v)", s.c.Name(), procedure, err, codeOf(err))
	}
}

// TestEveryPublicMethod reaches each of routes.yaml's public methods through the edge with real
// data, in every protocol a client may speak: curl-style JSON, Connect (binary protobuf), gRPC
// (HTTP/2) and gRPC-Web; a customer signs up and in, an admin manages the catalog, the customer
// orders, pays, reads the order, the payment and the notifications, and cancels.
func TestEveryPublicMethod(t *testing.T) {
	p := the(t)
	public := p.routes.publicMethods()
	if len(public) != 15 {
		t.Errorf("routes.yaml routes %d methods, the platform has 15 public ones: %v", len(public), public)
	}
	for _, c := range p.callers(t) {
		t.Run(strings.Fields(c.Name())[0], func(t *testing.T) {
			start := time.Now()
			s := &scenario{t: t, c: c, called: map[string][]time.Duration{}}
			runScenario(t, p, s)
			var missing []string
			for m := range public {
				if len(s.called[m]) == 0 {
					missing = append(missing, m)
				}
			}
			for m := range s.called {
				if _, ok := public[m]; !ok {
					t.Errorf("%s is not a public route of routes.yaml", m)
				}
			}
			if len(missing) > 0 {
				t.Errorf("public methods not exercised: %v", missing)
			}
			var lines []string
			var n int
			var total time.Duration
			for m, ds := range s.called {
				for _, d := range ds {
					total += d
					n++
				}
				lines = append(lines, fmt.Sprintf("%-62s %8s", m, ds[0].Round(10*time.Microsecond)))
			}
			sort.Strings(lines)
			t.Logf("%s: %d calls of %d methods through the edge in %s (mean %s/call); first call of each:\n  %s",
				c.Name(), n, len(s.called), time.Since(start).Round(time.Millisecond), (total / time.Duration(n)).Round(10*time.Microsecond),
				strings.Join(lines, "\n  "))
		})
	}

	// curl over HTTP/1.1 (no ALPN h2) works the same way.
	tr := &http.Transport{TLSClientConfig: p.tlsConfig(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	defer tr.CloseIdleConnections()
	h1 := &jsonCaller{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, base: p.base}
	r, err := h1.post(context.Background(), inventoryv1connect.InventoryServiceGetProductProcedure, []byte(`{"productId":"`+p.seedProduct.GetProductId()+`"}`))
	if err != nil || r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"sku":"E2E-SEED"`) {
		t.Errorf("GetProduct as JSON over HTTP/1.1: %v %+v", err, r)
	}
}

func runScenario(t *testing.T, p *platform, s *scenario) {
	tag := strings.ToUpper(strings.NewReplacer(" ", "", "(", "", ")", "", "-", "").Replace(strings.Fields(s.c.Name())[0]))
	admin := p.adminToken

	// customers: sign up, sign in, read and update oneself.
	email := fmt.Sprintf("%s-%d@E2E.Mercato.Test", strings.ToLower(tag), time.Now().UnixNano())
	var created customersv1.CreateCustomerResponse
	s.call("", customersv1connect.CustomerServiceCreateCustomerProcedure,
		&customersv1.CreateCustomerRequest{Email: email, Password: "e2e-password-1", DisplayName: "E2E " + tag}, &created)
	cust := created.GetCustomer()
	if _, err := uuid.Parse(cust.GetCustomerId()); err != nil || cust.GetEmail() != strings.ToLower(email) || !slices.Contains(cust.GetRoles(), "customer") {
		t.Errorf("CreateCustomer: %v", cust)
	}
	var signIn customersv1.SignInResponse
	s.call("", customersv1connect.CustomerServiceSignInProcedure, &customersv1.SignInRequest{Email: email, Password: "e2e-password-1"}, &signIn)
	token := signIn.GetAccessToken()
	if _, claims := jwtParts(t, token); claims["sub"] != cust.GetCustomerId() || signIn.GetExpiresIn() != 900 || !strings.EqualFold(signIn.GetTokenType(), "Bearer") {
		t.Errorf("SignIn: claims %v, expires_in %d, token_type %q", claims, signIn.GetExpiresIn(), signIn.GetTokenType())
	}
	var got customersv1.GetCustomerResponse
	s.call(token, customersv1connect.CustomerServiceGetCustomerProcedure, &customersv1.GetCustomerRequest{CustomerId: cust.GetCustomerId()}, &got)
	if got.GetCustomer().GetEmail() != strings.ToLower(email) {
		t.Errorf("GetCustomer: %v", got.GetCustomer())
	}
	var updated customersv1.UpdateCustomerResponse
	s.call(token, customersv1connect.CustomerServiceUpdateCustomerProcedure,
		&customersv1.UpdateCustomerRequest{CustomerId: cust.GetCustomerId(), DisplayName: proto.String("Renamed " + tag)}, &updated)
	if updated.GetCustomer().GetDisplayName() != "Renamed "+tag {
		t.Errorf("UpdateCustomer: %v", updated.GetCustomer())
	}

	// inventory: the admin creates, renames and restocks a product; anyone lists and reads it.
	var product inventoryv1.CreateProductResponse
	s.call(admin, inventoryv1connect.InventoryServiceCreateProductProcedure, &inventoryv1.CreateProductRequest{
		Sku: "E2E-" + tag, Name: "Product " + tag, Price: &moneyv1.Money{AmountMinor: 1999, Currency: "EUR"}, InitialStock: 10,
	}, &product)
	pid := product.GetProduct().GetProductId()
	var upd inventoryv1.UpdateProductResponse
	s.call(admin, inventoryv1connect.InventoryServiceUpdateProductProcedure,
		&inventoryv1.UpdateProductRequest{ProductId: pid, Name: proto.String("Renamed product " + tag)}, &upd)
	if upd.GetProduct().GetName() != "Renamed product "+tag {
		t.Errorf("UpdateProduct: %v", upd.GetProduct())
	}
	var adj inventoryv1.AdjustStockResponse
	s.call(admin, inventoryv1connect.InventoryServiceAdjustStockProcedure, &inventoryv1.AdjustStockRequest{ProductId: pid, Delta: 5, Reason: "e2e delivery"}, &adj)
	if adj.GetProduct().GetAvailable() != 15 {
		t.Errorf("AdjustStock +5 on 10: available %d", adj.GetProduct().GetAvailable())
	}
	var one inventoryv1.GetProductResponse
	s.call("", inventoryv1connect.InventoryServiceGetProductProcedure, &inventoryv1.GetProductRequest{ProductId: pid}, &one)
	if one.GetProduct().GetSku() != "E2E-"+tag || one.GetProduct().GetAvailable() != 15 || one.GetProduct().GetPrice().GetAmountMinor() != 1999 {
		t.Errorf("GetProduct: %v", one.GetProduct())
	}
	found := false
	for req := (&inventoryv1.ListProductsRequest{PageSize: 100}); ; {
		var page inventoryv1.ListProductsResponse
		s.call("", inventoryv1connect.InventoryServiceListProductsProcedure, req, &page)
		for _, pr := range page.GetProducts() {
			found = found || pr.GetProductId() == pid
		}
		if page.GetNextPageToken() == "" {
			break
		}
		req = &inventoryv1.ListProductsRequest{PageSize: 100, PageToken: page.GetNextPageToken()}
	}
	if !found {
		t.Errorf("ListProducts does not list %s", pid)
	}

	// orders and payments: the customer orders 2, reads the order, lists, reads the payment.
	var order ordersv1.CreateOrderResponse
	s.call(token, ordersv1connect.OrderServiceCreateOrderProcedure, &ordersv1.CreateOrderRequest{
		CustomerId: cust.GetCustomerId(), IdempotencyKey: "e2e-" + uuid.NewString(), PaymentMethod: "pm_card_visa",
		Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: pid, Quantity: 2}},
	}, &order)
	o := order.GetOrder()
	if o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED || o.GetTotal().GetAmountMinor() != 3998 || o.GetPaymentId() == "" {
		t.Fatalf("CreateOrder: want CONFIRMED, total 3998 and a payment; got %v", o)
	}
	var gotOrder ordersv1.GetOrderResponse
	s.call(token, ordersv1connect.OrderServiceGetOrderProcedure, &ordersv1.GetOrderRequest{OrderId: o.GetOrderId()}, &gotOrder)
	if gotOrder.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED || gotOrder.GetOrder().GetCustomerId() != cust.GetCustomerId() {
		t.Errorf("GetOrder: %v", gotOrder.GetOrder())
	}
	var list ordersv1.ListOrdersResponse
	s.call(token, ordersv1connect.OrderServiceListOrdersProcedure, &ordersv1.ListOrdersRequest{CustomerId: cust.GetCustomerId()}, &list)
	if len(list.GetOrders()) != 1 || list.GetOrders()[0].GetOrderId() != o.GetOrderId() {
		t.Errorf("ListOrders: %v", list.GetOrders())
	}
	var pay paymentsv1.GetPaymentResponse
	s.call(token, paymentsv1connect.PaymentServiceGetPaymentProcedure,
		&paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: o.GetOrderId()}}, &pay)
	if pm := pay.GetPayment(); pm.GetPaymentId() != o.GetPaymentId() || pm.GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED ||
		pm.GetAmount().GetAmountMinor() != 3998 || pm.GetCustomerId() != cust.GetCustomerId() {
		t.Errorf("GetPayment: %v (order %v)", pm, o)
	}
	var stock inventoryv1.GetProductResponse
	s.call("", inventoryv1connect.InventoryServiceGetProductProcedure, &inventoryv1.GetProductRequest{ProductId: pid}, &stock)
	if stock.GetProduct().GetAvailable() != 13 {
		t.Errorf("stock after ordering 2 of 15: %d", stock.GetProduct().GetAvailable())
	}

	// cancel: the stock comes back, the payment is voided.
	var canceled ordersv1.CancelOrderResponse
	s.call(token, ordersv1connect.OrderServiceCancelOrderProcedure, &ordersv1.CancelOrderRequest{OrderId: o.GetOrderId(), Reason: "e2e"}, &canceled)
	if canceled.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CANCELED {
		t.Errorf("CancelOrder: %v", canceled.GetOrder())
	}
	s.call("", inventoryv1connect.InventoryServiceGetProductProcedure, &inventoryv1.GetProductRequest{ProductId: pid}, &stock)
	s.call(token, paymentsv1connect.PaymentServiceGetPaymentProcedure,
		&paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_PaymentId{PaymentId: o.GetPaymentId()}}, &pay)
	if stock.GetProduct().GetAvailable() != 15 || pay.GetPayment().GetStatus() != paymentsv1.PaymentStatus_PAYMENT_STATUS_VOIDED {
		t.Errorf("after CancelOrder: stock %d (want 15), payment %v (want VOIDED)", stock.GetProduct().GetAvailable(), pay.GetPayment().GetStatus())
	}

	// notifications: the call is authorized and answered; the events (confirmed, canceled) are
	// recorded asynchronously, so wait a little for them and report what arrived.
	var notes notificationsv1.ListNotificationsResponse
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.call(token, notificationsv1connect.NotificationServiceListNotificationsProcedure,
			&notificationsv1.ListNotificationsRequest{CustomerId: cust.GetCustomerId()}, &notes)
		if len(notes.GetNotifications()) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var kinds []string
	for _, n := range notes.GetNotifications() {
		kinds = append(kinds, n.GetKind().String())
		if n.GetCustomerId() != cust.GetCustomerId() || n.GetOrderId() != o.GetOrderId() {
			t.Errorf("a notification of another customer or order: %v", n)
		}
	}
	t.Logf("ListNotifications: %d notification(s) for the order: %v", len(kinds), kinds)
}

// TestPrivateMethodsAreNotRoutable: the service-to-service methods are not routed by the edge
// — 404 (gRPC: Unimplemented) in every protocol, even with a valid admin token — and the
// services never receive them (neither handled nor refused).
func TestPrivateMethodsAreNotRoutable(t *testing.T) {
	p := the(t)
	orderID := uuid.NewString()
	private := map[string]struct {
		svc  string
		req  proto.Message
		json string
	}{
		inventoryv1connect.InventoryServiceReserveStockProcedure: {"inventory",
			&inventoryv1.ReserveStockRequest{OrderId: orderID, Items: []*inventoryv1.ReservationItem{{ProductId: p.seedProduct.GetProductId(), Quantity: 1}}},
			`{"orderId":"` + orderID + `","items":[{"productId":"` + p.seedProduct.GetProductId() + `","quantity":1}]}`},
		inventoryv1connect.InventoryServiceReleaseStockProcedure: {"inventory", &inventoryv1.ReleaseStockRequest{OrderId: orderID}, `{"orderId":"` + orderID + `"}`},
		paymentsv1connect.PaymentServiceAuthorizePaymentProcedure: {"payments",
			&paymentsv1.AuthorizePaymentRequest{OrderId: orderID, CustomerId: uuid.NewString(), Amount: &moneyv1.Money{AmountMinor: 100, Currency: "EUR"}, PaymentMethod: "pm_card_visa"},
			`{"orderId":"` + orderID + `","customerId":"` + uuid.NewString() + `","amount":{"amountMinor":"100","currency":"EUR"},"paymentMethod":"pm_card_visa"}`},
		paymentsv1connect.PaymentServiceVoidPaymentProcedure: {"payments", &paymentsv1.VoidPaymentRequest{OrderId: orderID}, `{"orderId":"` + orderID + `"}`},
	}
	var names []string
	for m := range private {
		names = append(names, m)
	}
	sort.Strings(names)
	if !slices.Equal(names, sortedCopy(p.routes.Private)) {
		t.Errorf("routes.yaml's private methods %v, this test covers %v", p.routes.Private, names)
	}

	before := map[string][2]float64{}
	for m, c := range private {
		h, r := served(t, p.svc[c.svc], m)
		before[m] = [2]float64{h, r}
	}
	jc := &jsonCaller{hc: p.httpClient(t), base: p.base}
	clients := []*api{p.client(t, "connect"), p.client(t, "grpc"), p.client(t, "grpc-web")}
	for _, m := range names {
		c := private[m]
		for _, token := range []string{"", p.adminToken} {
			ctx, cancel := context.WithTimeout(withToken(context.Background(), token), 5*time.Second)
			r, err := jc.post(ctx, m, []byte(c.json))
			if err != nil || r.Status != http.StatusNotFound {
				t.Errorf("JSON POST %s (token %t): %v %v, want 404", m, token != "", err, r)
			}
			for _, a := range clients {
				res := proto.Clone(c.req) // any message: the call must fail before a response
				if err := a.Call(ctx, m, c.req, res); connect.CodeOf(err) != connect.CodeUnimplemented {
					t.Errorf("%s %s (token %t): %v, want unimplemented", a.name, m, token != "", err)
				}
			}
			cancel()
		}
	}
	for m, c := range private {
		h, r := served(t, p.svc[c.svc], m)
		if h != before[m][0] || r != before[m][1] {
			t.Errorf("%s reached %s: handled %v→%v, refused %v→%v", m, c.svc, before[m][0], h, before[m][1], r)
		}
	}
	t.Logf("4 private methods × (JSON, Connect, gRPC, gRPC-Web) × (anonymous, admin token): 404/unimplemented at the edge; services' counters unchanged")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}
