// Command grpc-go is the README's grpc-go client: it lists products, shows a validation error
// with its field paths, signs in and places an order through the edge, with the generated
// grpc-go stubs. Run from the repository root while `make up` runs:
//
//	go run ./ops/examples/grpc-go
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/url"
	"os"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	ordersv1 "mercato.dev/proto/gen/go/mercato/orders/v1"
)

func main() {
	edge, err := url.Parse(env("EDGE", "https://localhost:8443"))
	if err != nil {
		log.Fatal(err)
	}
	pem, err := os.ReadFile(env("CA", ".data/edge/ca.pem"))
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	// gRPC over TLS (HTTP/2) to the edge; no client certificate: end users carry a JWT.
	conn, err := grpc.NewClient(edge.Host, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots})))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	customers := customersv1.NewCustomerServiceClient(conn)
	inventory := inventoryv1.NewInventoryServiceClient(conn)
	orders := ordersv1.NewOrderServiceClient(conn)

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

	// A bad request: InvalidArgument with protovalidate's violations in the status details.
	_, err = customers.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: "not-an-email", Password: "short"})
	fmt.Println("CreateCustomer with bad input:", status.Code(err))
	for _, d := range status.Convert(err).Details() {
		if v, ok := d.(*validate.Violations); ok {
			for _, violation := range v.GetViolations() {
				fmt.Printf("  %s: %s\n", protovalidate.FieldPathString(violation.GetField()), violation.GetMessage())
			}
		}
	}

	signIn, err := customers.SignIn(ctx, &customersv1.SignInRequest{Email: env("EMAIL", "demo@mercato.local"), Password: env("PASSWORD", "mercato-demo-pass")})
	if err != nil {
		log.Fatal(err)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+signIn.GetAccessToken())
	order, err := orders.CreateOrder(authed, &ordersv1.CreateOrderRequest{
		CustomerId:     signIn.GetCustomer().GetCustomerId(),
		IdempotencyKey: uuid.NewString(), // retry with the same key: the same order, never a second
		Items:          []*ordersv1.CreateOrderRequest_Item{{ProductId: inStock.GetProductId(), Quantity: 1}},
		PaymentMethod:  "pm_card_visa",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("order %s: %s, total %d %s\n", order.GetOrder().GetOrderId(), order.GetOrder().GetStatus(),
		order.GetOrder().GetTotal().GetAmountMinor(), order.GetOrder().GetTotal().GetCurrency())
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
