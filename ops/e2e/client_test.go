package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
)

// ---- per-call headers (the end user's token, forged headers) through the context ----

type headersKey struct{}

// withHeader returns ctx whose calls carry the header (both the JSON caller and the generated
// clients honour it).
func withHeader(ctx context.Context, k, v string) context.Context {
	prev, _ := ctx.Value(headersKey{}).(http.Header)
	h := prev.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(k, v)
	return context.WithValue(ctx, headersKey{}, h)
}

// withToken adds "Authorization: Bearer token" ("" leaves ctx as it is: anonymous).
func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return withHeader(ctx, "Authorization", "Bearer "+token)
}

func headersFrom(ctx context.Context) http.Header {
	h, _ := ctx.Value(headersKey{}).(http.Header)
	return h
}

var headerInterceptor = connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		for k, vs := range headersFrom(ctx) {
			for _, v := range vs {
				req.Header().Add(k, v)
			}
		}
		return next(ctx, req)
	}
})

// ---- callers: one public API, four wire protocols ----

// caller calls any public method by procedure, as a client of one protocol would.
type caller interface {
	Name() string
	Call(ctx context.Context, procedure string, req, res proto.Message) error
}

// api holds the generated clients of every service for one protocol.
type api struct {
	name          string
	customers     customersv1connect.CustomerServiceClient
	inventory     inventoryv1connect.InventoryServiceClient
	orders        ordersv1connect.OrderServiceClient
	payments      paymentsv1connect.PaymentServiceClient
	notifications notificationsv1connect.NotificationServiceClient
}

// newAPI builds generated clients on hc at base; protocol is "connect" (binary protobuf),
// "grpc" (HTTP/2) or "grpc-web".
func newAPI(tb testing.TB, hc connect.HTTPClient, base, protocol string) *api {
	opts := []connect.ClientOption{connect.WithInterceptors(headerInterceptor)}
	switch protocol {
	case "connect":
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpc-web":
		opts = append(opts, connect.WithGRPCWeb())
	default:
		tb.Fatalf("unknown protocol %q", protocol)
	}
	return &api{
		name:          protocol,
		customers:     customersv1connect.NewCustomerServiceClient(hc, base, opts...),
		inventory:     inventoryv1connect.NewInventoryServiceClient(hc, base, opts...),
		orders:        ordersv1connect.NewOrderServiceClient(hc, base, opts...),
		payments:      paymentsv1connect.NewPaymentServiceClient(hc, base, opts...),
		notifications: notificationsv1connect.NewNotificationServiceClient(hc, base, opts...),
	}
}

// client returns generated clients of the public API through the edge.
func (p *platform) client(tb testing.TB, protocol string) *api {
	return newAPI(tb, p.httpClient(tb), p.base, protocol)
}

// httpClient is a public client: it trusts the edge's dev CA, speaks HTTP/2 (ALPN) or HTTP/1.1.
func (p *platform) httpClient(tb testing.TB) *http.Client {
	tr := &http.Transport{TLSClientConfig: p.tlsConfig(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 32}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func (a *api) Name() string { return a.name }

func wrap[R proto.Message](r R, err error) (proto.Message, error) { return r, err }

// Call dispatches to the generated client method of procedure.
func (a *api) Call(ctx context.Context, procedure string, req, res proto.Message) error {
	var out proto.Message
	var err error
	switch procedure {
	case customersv1connect.CustomerServiceCreateCustomerProcedure:
		out, err = wrap(a.customers.CreateCustomer(ctx, req.(*customersv1.CreateCustomerRequest)))
	case customersv1connect.CustomerServiceSignInProcedure:
		out, err = wrap(a.customers.SignIn(ctx, req.(*customersv1.SignInRequest)))
	case customersv1connect.CustomerServiceGetCustomerProcedure:
		out, err = wrap(a.customers.GetCustomer(ctx, req.(*customersv1.GetCustomerRequest)))
	case customersv1connect.CustomerServiceUpdateCustomerProcedure:
		out, err = wrap(a.customers.UpdateCustomer(ctx, req.(*customersv1.UpdateCustomerRequest)))
	case inventoryv1connect.InventoryServiceListProductsProcedure:
		out, err = wrap(a.inventory.ListProducts(ctx, req.(*inventoryv1.ListProductsRequest)))
	case inventoryv1connect.InventoryServiceGetProductProcedure:
		out, err = wrap(a.inventory.GetProduct(ctx, req.(*inventoryv1.GetProductRequest)))
	case inventoryv1connect.InventoryServiceCreateProductProcedure:
		out, err = wrap(a.inventory.CreateProduct(ctx, req.(*inventoryv1.CreateProductRequest)))
	case inventoryv1connect.InventoryServiceUpdateProductProcedure:
		out, err = wrap(a.inventory.UpdateProduct(ctx, req.(*inventoryv1.UpdateProductRequest)))
	case inventoryv1connect.InventoryServiceAdjustStockProcedure:
		out, err = wrap(a.inventory.AdjustStock(ctx, req.(*inventoryv1.AdjustStockRequest)))
	case inventoryv1connect.InventoryServiceReserveStockProcedure:
		out, err = wrap(a.inventory.ReserveStock(ctx, req.(*inventoryv1.ReserveStockRequest)))
	case inventoryv1connect.InventoryServiceReleaseStockProcedure:
		out, err = wrap(a.inventory.ReleaseStock(ctx, req.(*inventoryv1.ReleaseStockRequest)))
	case ordersv1connect.OrderServiceCreateOrderProcedure:
		out, err = wrap(a.orders.CreateOrder(ctx, req.(*ordersv1.CreateOrderRequest)))
	case ordersv1connect.OrderServiceGetOrderProcedure:
		out, err = wrap(a.orders.GetOrder(ctx, req.(*ordersv1.GetOrderRequest)))
	case ordersv1connect.OrderServiceListOrdersProcedure:
		out, err = wrap(a.orders.ListOrders(ctx, req.(*ordersv1.ListOrdersRequest)))
	case ordersv1connect.OrderServiceCancelOrderProcedure:
		out, err = wrap(a.orders.CancelOrder(ctx, req.(*ordersv1.CancelOrderRequest)))
	case paymentsv1connect.PaymentServiceGetPaymentProcedure:
		out, err = wrap(a.payments.GetPayment(ctx, req.(*paymentsv1.GetPaymentRequest)))
	case paymentsv1connect.PaymentServiceAuthorizePaymentProcedure:
		out, err = wrap(a.payments.AuthorizePayment(ctx, req.(*paymentsv1.AuthorizePaymentRequest)))
	case paymentsv1connect.PaymentServiceVoidPaymentProcedure:
		out, err = wrap(a.payments.VoidPayment(ctx, req.(*paymentsv1.VoidPaymentRequest)))
	case notificationsv1connect.NotificationServiceListNotificationsProcedure:
		out, err = wrap(a.notifications.ListNotifications(ctx, req.(*notificationsv1.ListNotificationsRequest)))
	default:
		return fmt.Errorf("no generated client method for %s", procedure)
	}
	if err != nil {
		return err
	}
	proto.Reset(res)
	proto.Merge(res, out)
	return nil
}

// jsonCaller is curl: a plain HTTP POST of JSON with Content-Type application/json, nothing
// Connect-specific (no Connect-Protocol-Version header).
type jsonCaller struct {
	hc   *http.Client
	base string
}

func (j *jsonCaller) Name() string { return "json (curl-style)" }

func (j *jsonCaller) Call(ctx context.Context, procedure string, req, res proto.Message) error {
	body, err := protojson.Marshal(req)
	if err != nil {
		return err
	}
	r, err := j.post(ctx, procedure, body)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return r
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(r.Body, res)
}

// post sends body as curl would and returns the answer whatever its status.
func (j *jsonCaller) post(ctx context.Context, path string, body []byte) (*httpReply, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, j.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	for k, vs := range headersFrom(ctx) {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	resp, err := j.hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &httpReply{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// httpReply is a non-200 answer to the JSON caller; as an error it carries the Connect code
// of a Connect error body, or the code the HTTP status maps to (edge local replies are text).
type httpReply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *httpReply) Error() string {
	return fmt.Sprintf("HTTP %d: %s", r.Status, strings.TrimSpace(string(r.Body)))
}

func (r *httpReply) code() connect.Code {
	var e struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(r.Body, &e) == nil && e.Code != "" {
		var c connect.Code
		if c.UnmarshalText([]byte(e.Code)) == nil {
			return c
		}
	}
	switch r.Status {
	case 400:
		return connect.CodeInvalidArgument
	case 401:
		return connect.CodeUnauthenticated
	case 403:
		return connect.CodePermissionDenied
	case 404:
		return connect.CodeUnimplemented
	case 429, 502, 503, 504:
		return connect.CodeUnavailable
	}
	return connect.CodeUnknown
}

// codeOf is the Connect code of any caller's error (0 for nil).
func codeOf(err error) connect.Code {
	if err == nil {
		return 0
	}
	var r *httpReply
	if errors.As(err, &r) {
		return r.code()
	}
	return connect.CodeOf(err)
}

// callers are the public API through the edge in each protocol.
func (p *platform) callers(tb testing.TB) []caller {
	return []caller{
		&jsonCaller{hc: p.httpClient(tb), base: p.base},
		p.client(tb, "connect"),
		p.client(tb, "grpc"),
		p.client(tb, "grpc-web"),
	}
}

// signIn returns an access token.
func (p *platform) signIn(tb testing.TB, a *api, email, password string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := a.customers.SignIn(ctx, &customersv1.SignInRequest{Email: email, Password: password})
	if err != nil {
		tb.Fatalf("SignIn %s: %v", email, err)
	}
	return res.GetAccessToken()
}

// newCustomer signs up a fresh customer through the edge and signs them in.
func (p *platform) newCustomer(tb testing.TB, a *api, tag string) (id, token string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	email := fmt.Sprintf("%s-%d@e2e.mercato.test", tag, time.Now().UnixNano())
	res, err := a.customers.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: email, Password: "e2e-password-1", DisplayName: tag})
	if err != nil {
		tb.Fatalf("CreateCustomer %s: %v", email, err)
	}
	return res.GetCustomer().GetCustomerId(), p.signIn(tb, a, email, "e2e-password-1")
}

// ---- admin endpoints ----

func getBody(tb testing.TB, url string) []byte {
	tb.Helper()
	res, err := http.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s %v\n%s", url, res.Status, err, b)
	}
	return b
}

// metric sums the samples of the Prometheus series name whose labels include want.
func metric(tb testing.TB, adminAddr, name string, want map[string]string) float64 {
	tb.Helper()
	body := getBody(tb, "http://"+adminAddr+"/metrics")
	var sum float64
	for sc := bufio.NewScanner(bytes.NewReader(body)); sc.Scan(); {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		labels := ""
		if i, j := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}'); i >= 0 && j > i {
			labels = line[i+1 : j]
		}
		ok := true
		for k, v := range want {
			ok = ok && strings.Contains(","+labels+",", ","+k+"="+strconv.Quote(v)+",")
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil || math.IsNaN(v) {
			tb.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// served counts the calls of procedure a service has handled (any code), and the ones its
// authorization refused before any handler.
func served(tb testing.TB, pr *proc, procedure string) (handled, refused float64) {
	tb.Helper()
	return metric(tb, pr.AdminAddr, "rpc_server_duration_seconds_count", map[string]string{"procedure": procedure}),
		metric(tb, pr.AdminAddr, "rpc_server_refused_total", map[string]string{"procedure": procedure})
}

// clusters is the edge's /clusters: cluster → endpoint → healthy|ejected.
func (p *platform) clusters(tb testing.TB) map[string]map[string]string {
	tb.Helper()
	var c map[string]map[string]string
	if err := json.Unmarshal(getBody(tb, "http://"+p.edge.AdminAddr+"/clusters"), &c); err != nil {
		tb.Fatalf("edge /clusters: %v", err)
	}
	return c
}

// waitClusters polls the edge's /clusters until check returns "" and returns how long it took.
func (p *platform) waitClusters(tb testing.TB, timeout time.Duration, check func(map[string]map[string]string) string) time.Duration {
	tb.Helper()
	start := time.Now()
	for {
		why := check(p.clusters(tb))
		if why == "" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			tb.Fatalf("edge clusters after %s: %s", timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- tokens ----

// signES256 makes a JWT of the contract's shape (ES256, kid) signed with key.
func signES256(tb testing.TB, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	c, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig)
}

// jwtParts decodes a token's header and payload (no verification).
func jwtParts(tb testing.TB, token string) (header, payload map[string]any) {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token %q is not a JWS compact serialization", token)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			tb.Fatalf("token part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			tb.Fatalf("token part %d: %v", i, err)
		}
	}
	return header, payload
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
