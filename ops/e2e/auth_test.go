package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // reads the customers' signing key to mint expired and mis-addressed tokens
	"github.com/spiffe/go-spiffe/v2/spiffeid"
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
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
)

// TestJWT checks the end-user authentication at the edge and the owner/admin rules the
// services enforce from the claims the edge forwards — and only from the edge.
func TestJWT(t *testing.T) {
	p := the(t)
	a := p.client(t, "connect")
	jc := &jsonCaller{hc: p.httpClient(t), base: p.base}
	aliceID, alice := p.newCustomer(t, a, "alice")
	bobID, bob := p.newCustomer(t, a, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	placed, err := a.orders.CreateOrder(withToken(ctx, alice), &ordersv1.CreateOrderRequest{
		CustomerId: aliceID, IdempotencyKey: "jwt-" + uuid.NewString(), PaymentMethod: "pm_card_visa",
		Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: p.seedProduct.GetProductId(), Quantity: 1}},
	})
	if err != nil || placed.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
		t.Fatalf("alice's order: %v %v", placed, err)
	}
	aliceOrder := placed.GetOrder().GetOrderId()

	// Requests of every JWT route for alice's resources (admin-only routes on the seed product).
	type call struct {
		procedure string
		req       proto.Message
		res       proto.Message
	}
	jwtCalls := []call{
		{customersv1connect.CustomerServiceGetCustomerProcedure, &customersv1.GetCustomerRequest{CustomerId: aliceID}, &customersv1.GetCustomerResponse{}},
		{customersv1connect.CustomerServiceUpdateCustomerProcedure, &customersv1.UpdateCustomerRequest{CustomerId: aliceID, DisplayName: proto.String("Alice")}, &customersv1.UpdateCustomerResponse{}},
		{inventoryv1connect.InventoryServiceCreateProductProcedure, &inventoryv1.CreateProductRequest{Sku: "E2E-JWT-NEVER", Name: "never", Price: &moneyv1.Money{AmountMinor: 1, Currency: "EUR"}}, &inventoryv1.CreateProductResponse{}},
		{inventoryv1connect.InventoryServiceUpdateProductProcedure, &inventoryv1.UpdateProductRequest{ProductId: p.seedProduct.GetProductId(), Name: proto.String("hijacked")}, &inventoryv1.UpdateProductResponse{}},
		{inventoryv1connect.InventoryServiceAdjustStockProcedure, &inventoryv1.AdjustStockRequest{ProductId: p.seedProduct.GetProductId(), Delta: -1000, Reason: "theft"}, &inventoryv1.AdjustStockResponse{}},
		{ordersv1connect.OrderServiceCreateOrderProcedure, &ordersv1.CreateOrderRequest{CustomerId: aliceID, IdempotencyKey: "jwt-" + uuid.NewString(), PaymentMethod: "pm_card_visa",
			Items: []*ordersv1.CreateOrderRequest_Item{{ProductId: p.seedProduct.GetProductId(), Quantity: 1}}}, &ordersv1.CreateOrderResponse{}},
		{ordersv1connect.OrderServiceGetOrderProcedure, &ordersv1.GetOrderRequest{OrderId: aliceOrder}, &ordersv1.GetOrderResponse{}},
		{ordersv1connect.OrderServiceListOrdersProcedure, &ordersv1.ListOrdersRequest{CustomerId: aliceID}, &ordersv1.ListOrdersResponse{}},
		{ordersv1connect.OrderServiceCancelOrderProcedure, &ordersv1.CancelOrderRequest{OrderId: aliceOrder}, &ordersv1.CancelOrderResponse{}},
		{paymentsv1connect.PaymentServiceGetPaymentProcedure, &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: aliceOrder}}, &paymentsv1.GetPaymentResponse{}},
		{notificationsv1connect.NotificationServiceListNotificationsProcedure, &notificationsv1.ListNotificationsRequest{CustomerId: aliceID}, &notificationsv1.ListNotificationsResponse{}},
	}
	covered := map[string]bool{}
	for _, c := range jwtCalls {
		covered[c.procedure] = true
	}
	for m, auth := range p.routes.publicMethods() {
		if (auth == "jwt") != covered[m] {
			t.Errorf("%s: auth %q in routes.yaml, covered as a JWT route here: %t", m, auth, covered[m])
		}
	}

	t.Run("no token is 401 on every JWT route", func(t *testing.T) {
		clients := []caller{jc, a, p.client(t, "grpc"), p.client(t, "grpc-web")}
		for _, c := range jwtCalls {
			for _, cl := range clients {
				err := cl.Call(ctx, c.procedure, c.req, c.res)
				if codeOf(err) != connect.CodeUnauthenticated {
					t.Errorf("%s %s without a token: %v, want unauthenticated", cl.Name(), c.procedure, err)
					continue
				}
				var r *httpReply
				if asReply(err, &r) && (r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("Www-Authenticate"), "Bearer")) {
					t.Errorf("%s %s: HTTP %d, WWW-Authenticate %q; want 401 with a Bearer challenge", cl.Name(), c.procedure, r.Status, r.Header.Get("Www-Authenticate"))
				}
			}
		}
	})

	t.Run("bad tokens", func(t *testing.T) {
		kid, key := signingKey(t, p, alice)
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		now := time.Now()
		good := map[string]any{"iss": "mercato.customers", "aud": "mercato", "sub": aliceID, "roles": []string{"customer"}, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		with := func(k string, v any) map[string]any {
			c := map[string]any{}
			for kk, vv := range good {
				c[kk] = vv
			}
			c[k] = v
			return c
		}
		// The control: a token minted here with the real key is accepted, so each refusal
		// below is for the one thing that differs.
		minted := signES256(t, key, kid, good)
		if _, err := a.customers.GetCustomer(withToken(ctx, minted), &customersv1.GetCustomerRequest{CustomerId: aliceID}); err != nil {
			t.Fatalf("a token minted with the customers' signing key is refused: %v", err)
		}
		header, _ := jwtParts(t, alice)
		tokens := []struct {
			name   string
			token  string
			status int
		}{
			{"garbage", "not-a-jwt", 401},
			{"garbage in three parts", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA", 401},
			{"alice's token with its signature cut", alice[:strings.LastIndexByte(alice, '.')+1], 401},
			{"unsigned (alg none)", b64(`{"alg":"none","typ":"JWT","kid":"`+header["kid"].(string)+`"}`) + "." + b64(mustJSON(good)) + ".", 401},
			{"signed by another key under the real kid", signES256(t, other, kid, good), 401},
			{"signed by another key under an unknown kid", signES256(t, other, "e2e-unknown-kid", good), 401},
			{"expired 5 minutes ago (real key)", signES256(t, key, kid, with("exp", now.Add(-5*time.Minute).Unix())), 401},
			{"not valid for another 10 minutes (real key)", signES256(t, key, kid, with("nbf", now.Add(10*time.Minute).Unix())), 401},
			{"another issuer (real key)", signES256(t, key, kid, with("iss", "someone.else")), 401},
			// Envoy answers a token whose only fault is its audience with 403, and so does the
			// dev edge (edge/README.md).
			{"another audience (real key)", signES256(t, key, kid, with("aud", "not-mercato")), 403},
		}
		for _, tk := range tokens {
			r, err := jc.post(withToken(ctx, tk.token), customersv1connect.CustomerServiceGetCustomerProcedure, []byte(`{"customerId":"`+aliceID+`"}`))
			if err != nil || r.Status != tk.status {
				t.Errorf("%s: %v %v, want HTTP %d", tk.name, r, err, tk.status)
				continue
			}
			if tk.status == 401 && !strings.Contains(r.Header.Get("Www-Authenticate"), "invalid_token") {
				t.Errorf("%s: WWW-Authenticate %q, want error=\"invalid_token\"", tk.name, r.Header.Get("Www-Authenticate"))
			}
			if _, err := a.customers.GetCustomer(withToken(ctx, tk.token), &customersv1.GetCustomerRequest{CustomerId: aliceID}); err == nil {
				t.Errorf("%s: the Connect client was answered", tk.name)
			}
		}
		t.Logf("%d bad tokens refused at the edge (minted with the customers' key %s where the signature is not the fault)", len(tokens), kid)
	})

	t.Run("owners read their own resources only", func(t *testing.T) {
		for _, c := range jwtCalls {
			switch c.procedure {
			case inventoryv1connect.InventoryServiceCreateProductProcedure, inventoryv1connect.InventoryServiceUpdateProductProcedure,
				inventoryv1connect.InventoryServiceAdjustStockProcedure, ordersv1connect.OrderServiceCancelOrderProcedure:
				continue // admin-only below; alice's cancel comes last
			}
			if err := a.Call(withToken(ctx, alice), c.procedure, c.req, c.res); err != nil {
				t.Errorf("alice %s on her own: %v", c.procedure, err)
			}
			// bob, with a valid token, on alice's resources: answered as if they did not exist
			// (not_found), so that bob cannot probe which IDs exist; CreateOrder in alice's name
			// is refused outright (permission_denied).
			want := connect.CodeNotFound
			if c.procedure == ordersv1connect.OrderServiceCreateOrderProcedure {
				want = connect.CodePermissionDenied
			}
			if err := a.Call(withToken(ctx, bob), c.procedure, c.req, c.res); connect.CodeOf(err) != want {
				t.Errorf("bob %s on alice's: %v, want %v", c.procedure, err, want)
			}
			if err := jc.Call(withToken(ctx, bob), c.procedure, c.req, c.res); codeOf(err) != want {
				t.Errorf("bob %s on alice's (JSON): %v, want %v", c.procedure, err, want)
			}
		}
		if _, err := a.orders.CancelOrder(withToken(ctx, bob), &ordersv1.CancelOrderRequest{OrderId: aliceOrder}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("bob cancels alice's order: %v, want not_found", err)
		}
		// Alice's order list: her two orders, none of bob's; bob's list is empty.
		mine, err := a.orders.ListOrders(withToken(ctx, alice), &ordersv1.ListOrdersRequest{CustomerId: aliceID})
		if err != nil || len(mine.GetOrders()) != 2 {
			t.Errorf("alice's orders: %v %v, want 2", mine, err)
		}
		for _, o := range mine.GetOrders() {
			if o.GetCustomerId() != aliceID {
				t.Errorf("alice's list holds %v", o)
			}
		}
		theirs, err := a.orders.ListOrders(withToken(ctx, bob), &ordersv1.ListOrdersRequest{CustomerId: bobID})
		if err != nil || len(theirs.GetOrders()) != 0 {
			t.Errorf("bob's orders: %v %v, want none", theirs, err)
		}
		// An admin may read anyone's (but orders for themself only).
		if _, err := a.orders.GetOrder(withToken(ctx, p.adminToken), &ordersv1.GetOrderRequest{OrderId: aliceOrder}); err != nil {
			t.Errorf("admin GetOrder of alice's: %v", err)
		}
		if _, err := a.customers.GetCustomer(withToken(ctx, p.adminToken), &customersv1.GetCustomerRequest{CustomerId: aliceID}); err != nil {
			t.Errorf("admin GetCustomer of alice: %v", err)
		}
		if _, err := a.notifications.ListNotifications(withToken(ctx, p.adminToken), &notificationsv1.ListNotificationsRequest{CustomerId: aliceID}); err != nil {
			t.Errorf("admin ListNotifications of alice: %v", err)
		}
		if _, err := a.payments.GetPayment(withToken(ctx, p.adminToken), &paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: aliceOrder}}); err != nil {
			t.Errorf("admin GetPayment of alice's order: %v", err)
		}
		got, err := a.orders.GetOrder(withToken(ctx, alice), &ordersv1.GetOrderRequest{OrderId: aliceOrder})
		if err != nil || got.GetOrder().GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
			t.Errorf("alice's order after bob's attempts: %v %v, want CONFIRMED", got, err)
		}
	})

	t.Run("catalog management needs the admin claim", func(t *testing.T) {
		for _, c := range jwtCalls {
			if !strings.HasPrefix(c.procedure, "/mercato.inventory.v1.") {
				continue
			}
			if err := a.Call(withToken(ctx, alice), c.procedure, c.req, c.res); connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("customer %s: %v, want permission_denied", c.procedure, err)
			}
		}
		sku := "E2E-ADMIN-" + strings.ToUpper(uuid.NewString()[:8])
		res, err := a.inventory.CreateProduct(withToken(ctx, p.adminToken), &inventoryv1.CreateProductRequest{Sku: sku, Name: "admin's", Price: &moneyv1.Money{AmountMinor: 5, Currency: "EUR"}})
		if err != nil || res.GetProduct().GetSku() != sku {
			t.Errorf("admin CreateProduct: %v %v", res, err)
		}
		seed, err := a.inventory.GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: p.seedProduct.GetProductId()})
		if err != nil || seed.GetProduct().GetName() != p.seedProduct.GetName() {
			t.Errorf("the seed product after customers' attempts: %v %v", seed, err)
		}
	})

	t.Run("forged claims headers are stripped at the edge", func(t *testing.T) {
		adminClaims := claims.Encode(claims.Claims{Subject: aliceID, Roles: []string{"customer", "admin"}, ExpiresAt: time.Now().Add(time.Hour).Unix()})
		forged := withHeader(ctx, claims.Header, adminClaims)
		sku := "E2E-FORGED-" + strings.ToUpper(uuid.NewString()[:8])
		create := &inventoryv1.CreateProductRequest{Sku: sku, Name: "forged", Price: &moneyv1.Money{AmountMinor: 1, Currency: "EUR"}}
		// No token: the route needs one; the forged header does not stand in for it.
		for _, cl := range []caller{jc, a, p.client(t, "grpc")} {
			if err := cl.Call(forged, inventoryv1connect.InventoryServiceCreateProductProcedure, create, &inventoryv1.CreateProductResponse{}); codeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("%s CreateProduct with forged admin claims and no token: %v, want unauthenticated", cl.Name(), err)
			}
		}
		// A customer's valid token plus forged admin claims: the edge replaces the header with
		// the token's own claims, so the service sees a customer.
		if _, err := a.inventory.CreateProduct(withToken(forged, alice), create); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("CreateProduct with alice's token and forged admin claims: %v, want permission_denied", err)
		}
		// bob's token, forged claims naming alice.
		if _, err := a.orders.GetOrder(withToken(withHeader(ctx, claims.Header, claims.Encode(claims.Claims{Subject: aliceID, Roles: []string{"customer"}})), bob),
			&ordersv1.GetOrderRequest{OrderId: aliceOrder}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("bob's GetOrder of alice's order with claims forged as alice: %v, want not_found", err)
		}
		// An anonymous route with the forged header is answered as anonymous.
		if _, err := a.inventory.ListProducts(forged, &inventoryv1.ListProductsRequest{}); err != nil {
			t.Errorf("ListProducts with a forged claims header: %v", err)
		}
		if productExists(t, a, sku) {
			t.Errorf("%s was created with forged claims", sku)
		}
	})

	t.Run("claims from anything but the edge are ignored", func(t *testing.T) {
		adminAsAlice := claims.Encode(claims.Claims{Subject: aliceID, Roles: []string{"customer", "admin"}, ExpiresAt: time.Now().Add(time.Hour).Unix()})
		direct := func(caller spiffeid.ID, svc string) *api {
			return newAPI(t, p.env.HTTPClient(t, caller, identity.Service(svc)), "https://"+p.svc[svc].Addr, "connect")
		}
		forged := withHeader(ctx, claims.Header, adminAsAlice)
		sku := "E2E-DIRECT-" + strings.ToUpper(uuid.NewString()[:8])
		cases := []struct {
			who, svc, procedure string
			caller              spiffeid.ID
			call                func(*api) error
		}{
			{"ops/cli", "orders", ordersv1connect.OrderServiceListOrdersProcedure, identity.OpsCLI, func(c *api) error {
				_, err := c.orders.ListOrders(forged, &ordersv1.ListOrdersRequest{CustomerId: aliceID})
				return err
			}},
			{"ops/cli", "orders", ordersv1connect.OrderServiceGetOrderProcedure, identity.OpsCLI, func(c *api) error {
				_, err := c.orders.GetOrder(forged, &ordersv1.GetOrderRequest{OrderId: aliceOrder})
				return err
			}},
			{"svc/payments", "customers", customersv1connect.CustomerServiceGetCustomerProcedure, asPayments, func(c *api) error {
				_, err := c.customers.GetCustomer(forged, &customersv1.GetCustomerRequest{CustomerId: aliceID})
				return err
			}},
			{"svc/orders", "inventory", inventoryv1connect.InventoryServiceCreateProductProcedure, asOrders, func(c *api) error {
				_, err := c.inventory.CreateProduct(forged, &inventoryv1.CreateProductRequest{Sku: sku, Name: "direct", Price: &moneyv1.Money{AmountMinor: 1, Currency: "EUR"}})
				return err
			}},
			{"svc/orders", "notifications", notificationsv1connect.NotificationServiceListNotificationsProcedure, asOrders, func(c *api) error {
				_, err := c.notifications.ListNotifications(forged, &notificationsv1.ListNotificationsRequest{CustomerId: aliceID})
				return err
			}},
		}
		for _, c := range cases {
			_, refusedBefore := served(t, p.svc[c.svc], c.procedure)
			err := c.call(direct(c.caller, c.svc))
			_, refusedAfter := served(t, p.svc[c.svc], c.procedure)
			if connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("%s → %s %s with forged admin claims: %v, want permission_denied", c.who, c.svc, c.procedure, err)
			}
			if refusedAfter != refusedBefore+1 {
				t.Errorf("%s → %s %s: rpc_server_refused_total %v → %v, want +1 (refused by the authorization table)", c.who, c.svc, c.procedure, refusedBefore, refusedAfter)
			}
		}
		// orders may read any payment (the saga does); forged claims of bob change nothing:
		// a service caller's claims are dropped, never used to narrow or widen its rights.
		pay, err := direct(asOrders, "payments").payments.GetPayment(
			withHeader(ctx, claims.Header, claims.Encode(claims.Claims{Subject: bobID, Roles: []string{"customer"}})),
			&paymentsv1.GetPaymentRequest{Lookup: &paymentsv1.GetPaymentRequest_OrderId{OrderId: aliceOrder}})
		if err != nil || pay.GetPayment().GetCustomerId() != aliceID {
			t.Errorf("svc/orders GetPayment with bob's forged claims: %v %v, want alice's payment", pay, err)
		}
		if productExists(t, a, sku) {
			t.Errorf("%s was created by a direct call with forged claims", sku)
		}
	})

	// Last: it deactivates alice.
	t.Run("a deactivated customer's earlier token is refused on every method within 5 s", func(t *testing.T) {
		status := customersv1.CustomerStatus_CUSTOMER_STATUS_INACTIVE
		if _, err := a.customers.UpdateCustomer(withToken(ctx, p.adminToken), &customersv1.UpdateCustomerRequest{CustomerId: aliceID, Status: &status}); err != nil {
			t.Fatalf("admin deactivates alice: %v", err)
		}
		start := time.Now()
		took := map[string]time.Duration{}
		for len(took) < len(jwtCalls) && time.Since(start) < 30*time.Second {
			for _, c := range jwtCalls {
				if _, done := took[c.procedure]; done {
					continue
				}
				if err := a.Call(withToken(ctx, alice), c.procedure, c.req, c.res); connect.CodeOf(err) == connect.CodeUnauthenticated {
					took[c.procedure] = time.Since(start)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, c := range jwtCalls {
			d, done := took[c.procedure]
			if !done {
				t.Errorf("%s still serves alice's earlier token %s after her deactivation", c.procedure, time.Since(start).Round(time.Millisecond))
				continue
			}
			t.Logf("%s refuses alice's earlier token %s after her deactivation (contract: 5 s)", c.procedure, d.Round(time.Millisecond))
		}
		if _, err := a.customers.GetCustomer(withToken(ctx, bob), &customersv1.GetCustomerRequest{CustomerId: bobID}); err != nil {
			t.Errorf("bob, still active, is refused: %v", err)
		}
	})
}

func asReply(err error, r **httpReply) bool {
	rr, ok := err.(*httpReply)
	if ok {
		*r = rr
	}
	return ok
}

// productExists pages through the catalog for sku.
func productExists(t *testing.T, a *api, sku string) bool {
	t.Helper()
	req := &inventoryv1.ListProductsRequest{PageSize: 100}
	for {
		res, err := a.inventory.ListProducts(context.Background(), req)
		if err != nil {
			t.Fatalf("ListProducts: %v", err)
		}
		for _, pr := range res.GetProducts() {
			if pr.GetSku() == sku {
				return true
			}
		}
		if res.GetNextPageToken() == "" {
			return false
		}
		req.PageToken = res.GetNextPageToken()
	}
}

// signingKey reads the private key that signed token from the customers' database (the test
// owns that database), to mint tokens that differ from a real one in one claim only.
func signingKey(t *testing.T, p *platform, token string) (string, *ecdsa.PrivateKey) {
	t.Helper()
	header, _ := jwtParts(t, token)
	kid, _ := header["kid"].(string)
	db, err := sql.Open("pgx", p.customersDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pemText string
	if err := db.QueryRowContext(t.Context(), `SELECT private_key_pem FROM signing_keys WHERE kid = $1`, kid).Scan(&pemText); err != nil {
		t.Fatalf("signing key %s in the customers database: %v", kid, err)
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		t.Fatalf("signing key %s: no PEM", kid)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("signing key %s: %v", kid, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("signing key %s is a %T", kid, k)
	}
	return kid, ec
}
