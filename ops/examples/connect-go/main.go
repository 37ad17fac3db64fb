// Command connect-go is the README's connect-go client: it lists products, signs in and places
// an order through the edge with the generated Connect clients, over PROTOCOL connect (binary
// protobuf; the default), grpc or grpc-web. Run from the repository root while `make up` runs:
//
//	PROTOCOL=grpc-web go run ./ops/examples/connect-go
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
)

func main() {
	edge := env("EDGE", "https://localhost:8443")
	pem, err := os.ReadFile(env("CA", ".data/edge/ca.pem"))
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	// HTTP/2 when the edge offers it (ALPN), HTTP/1.1 otherwise; gRPC needs HTTP/2.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	var opts []connect.ClientOption
	switch p := env("PROTOCOL", "connect"); p {
	case "connect":
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpc-web":
		opts = append(opts, connect.WithGRPCWeb())
	default:
		log.Fatalf("PROTOCOL %q: want connect, grpc or grpc-web", p)
	}
	customers := customersv1connect.NewCustomerServiceClient(hc, edge, opts...)
	inventory := inventoryv1connect.NewInventoryServiceClient(hc, edge, opts...)
	orders := ordersv1connect.NewOrderServiceClient(hc, edge, opts...)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // every call has a deadline
	defer cancel()
	products, err := inventory.ListProducts(ctx, &inventoryv1.ListProductsRequest{PageSize: 20})
	if err != nil {
		log.Fatal(err)
	}
	var inStock *inventoryv1.Product
	for _, p := range products.GetProducts() {
		fmt.Printf("product %s %q, %d available\n", p.GetProductId(), p.GetName(), p.GetAvailable())
		if inStock == nil && p.GetAvailable() > 0 {
			inStock = p
		}
	}
	if inStock == nil {
		log.Fatal("no product in stock among the first 20")
	}
	_, err = customers.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: "not-an-email", Password: "short"})
	if ce := new(connect.Error); errors.As(err, &ce) {
		fmt.Printf("CreateCustomer with bad input: %s, %d detail(s)\n", ce.Code(), len(ce.Details()))
	}
	signIn, err := customers.SignIn(ctx, &customersv1.SignInRequest{Email: env("EMAIL", "demo@mercato.local"), Password: env("PASSWORD", "mercato-demo-pass")})
	if err != nil {
		log.Fatal(err)
	}
	// The token goes in a header of the call; the edge checks it and forwards its claims.
	authed, call := connect.NewClientContext(ctx)
	call.RequestHeader().Set("Authorization", "Bearer "+signIn.GetAccessToken())
	order, err := orders.CreateOrder(authed, &ordersv1.CreateOrderRequest{
		CustomerId:     signIn.GetCustomer().GetCustomerId(),
		IdempotencyKey: uuid.NewString(), // retry with the same key: the same order, never a second
		Items:          []*ordersv1.CreateOrderRequest_Item{{ProductId: inStock.GetProductId(), Quantity: 1}},
		PaymentMethod:  "pm_card_visa",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("order %s: %s\n", order.GetOrder().GetOrderId(), order.GetOrder().GetStatus())
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
