package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
)

// DemoProducts are the catalog `mercato up` seeds.
var DemoProducts = []*inventoryv1.CreateProductRequest{
	{Sku: "MUG-001", Name: "Mercato mug", Description: "Stoneware, 350 ml.", Price: eur(1290), InitialStock: 100},
	{Sku: "TEE-001", Name: "Mercato T-shirt", Description: "Organic cotton, unisex.", Price: eur(2490), InitialStock: 50},
	{Sku: "CAP-001", Name: "Mercato cap", Description: "One size.", Price: eur(1990), InitialStock: 25},
	{Sku: "BAG-001", Name: "Tote bag", Description: "Canvas.", Price: eur(990), InitialStock: 10},
}

func eur(minor int64) *moneyv1.Money { return &moneyv1.Money{AmountMinor: minor, Currency: "EUR"} }

// Seed creates the demo customer and products through the public edge, as any client would: an
// anonymous CreateCustomer, then the admin's sign-in and CreateProduct calls with its token.
// Everything that already exists is left as it is, so a second `mercato up` seeds nothing.
func Seed(ctx context.Context, edgeURL, caFile string) error {
	hc, err := edgeClient(caFile)
	if err != nil {
		return err
	}
	customers := customersv1connect.NewCustomerServiceClient(hc, edgeURL, connect.WithProtoJSON())
	inventory := inventoryv1connect.NewInventoryServiceClient(hc, edgeURL, connect.WithProtoJSON())
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = customers.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: DemoEmail, Password: DemoPassword, DisplayName: "Demo Customer"})
	if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
		return fmt.Errorf("seed demo customer: %w", err)
	}
	signIn, err := customers.SignIn(ctx, &customersv1.SignInRequest{Email: AdminEmail, Password: AdminPassword})
	if err != nil {
		return fmt.Errorf("seed: admin sign-in: %w", err)
	}
	for _, p := range DemoProducts {
		callCtx, call := connect.NewClientContext(ctx)
		call.RequestHeader().Set("Authorization", "Bearer "+signIn.GetAccessToken())
		if _, err := inventory.CreateProduct(callCtx, p); err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
			return fmt.Errorf("seed product %s: %w", p.GetSku(), err)
		}
	}
	return nil
}

// edgeClient trusts the edge's dev CA only.
func edgeClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("edge CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("edge CA: no certificate in " + caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}
