// Package bench measures a running Mercato platform from the outside, as its users see it:
// HTTPS to the edge with the dev CA, Connect JSON, real JWTs from SignIn. It sets up its own
// customers and product through the public API (the admin account creates the product), drives
// CreateOrder and GetProduct in closed and open loops, and accounts the CPU time of every process
// of `mercato up` from /proc until the asynchronous work (outbox relays, notifications) has
// drained. The loadgen command (ops/cmd/loadgen) is its CLI; the bench command (ops/cmd/bench)
// runs whole platforms with it and writes BENCHMARKS.md.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	"mercato.dev/proto/gen/go/mercato/orders/v1/ordersv1connect"
)

// Target is the edge a run talks to.
type Target struct {
	EdgeURL       string // https://localhost:8443
	CAFile        string // the edge's dev CA ($MERCATO_DATA/edge/ca.pem)
	AdminEmail    string
	AdminPassword string
	CallTimeout   time.Duration // per call; every call has a deadline
}

// Clients are the Connect JSON clients of one HTTP/2 connection to the edge.
type Clients struct {
	Customers     customersv1connect.CustomerServiceClient
	Inventory     inventoryv1connect.InventoryServiceClient
	Orders        ordersv1connect.OrderServiceClient
	Notifications notificationsv1connect.NotificationServiceClient
	http          *http.Client
}

// Pool is a set of connections to the edge: each Clients has its own transport, so its own
// keep-alive HTTP/2 connection; workers share them round robin.
type Pool struct {
	target Target
	conns  []*Clients
}

// NewPool opens n independent keep-alive HTTP/2 clients (connections are made on first use).
func NewPool(t Target, n int) (*Pool, error) {
	if n < 1 {
		n = 1
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("edge CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("edge CA: no certificate in " + t.CAFile)
	}
	p := &Pool{target: t}
	for range n {
		tr := &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}
		hc := &http.Client{Transport: tr}
		opts := []connect.ClientOption{connect.WithProtoJSON()}
		p.conns = append(p.conns, &Clients{
			Customers:     customersv1connect.NewCustomerServiceClient(hc, t.EdgeURL, opts...),
			Inventory:     inventoryv1connect.NewInventoryServiceClient(hc, t.EdgeURL, opts...),
			Orders:        ordersv1connect.NewOrderServiceClient(hc, t.EdgeURL, opts...),
			Notifications: notificationsv1connect.NewNotificationServiceClient(hc, t.EdgeURL, opts...),
			http:          hc,
		})
	}
	return p, nil
}

// Conn returns the i-th connection (modulo the pool size).
func (p *Pool) Conn(i int) *Clients { return p.conns[i%len(p.conns)] }

// Size is the number of connections.
func (p *Pool) Size() int { return len(p.conns) }

// Close drops the idle connections.
func (p *Pool) Close() {
	for _, c := range p.conns {
		c.http.CloseIdleConnections()
	}
}

// CheckHTTP2 makes one plain request through the first connection and fails unless the edge
// answered over HTTP/2: the figures are meant for keep-alive HTTP/2 connections.
func (p *Pool) CheckHTTP2(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.target.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		p.target.EdgeURL+inventoryv1connect.InventoryServiceListProductsProcedure, strings.NewReader(`{"page_size":1}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.conns[0].http.Do(req)
	if err != nil {
		return fmt.Errorf("edge %s: %w", p.target.EdgeURL, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("edge ListProducts: HTTP %d", res.StatusCode)
	}
	if res.ProtoMajor != 2 {
		return fmt.Errorf("edge answered over %s, want HTTP/2", res.Proto)
	}
	return nil
}

func (t Target) timeout() time.Duration {
	if t.CallTimeout <= 0 {
		return 10 * time.Second
	}
	return t.CallTimeout
}

// Customer is a signed-in customer.
type Customer struct {
	ID    string
	Email string
	Token string
}

// Fixture is what a run creates before it measures: customers and one product with ample stock.
type Fixture struct {
	RunID     string
	Customers []Customer
	ProductID string
}

// ampleStock is the product's stock: far more than any run orders (one unit per order).
const ampleStock = 1_000_000_000

// Setup signs up n customers and signs them in, and creates a product with ample stock through
// the admin account, all through the public edge. Names carry a random run ID, so runs against
// the same platform never collide.
func Setup(ctx context.Context, p *Pool, n int) (*Fixture, error) {
	runID := randomHex(4)
	f := &Fixture{RunID: runID, Customers: make([]Customer, n)}
	c := p.Conn(0)
	admin, err := signIn(ctx, p, c, p.target.AdminEmail, p.target.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("admin sign-in (%s): %w", p.target.AdminEmail, err)
	}
	var res *inventoryv1.CreateProductResponse
	err = retry(ctx, func() error {
		callCtx, cancel := context.WithTimeout(ctx, p.target.timeout())
		defer cancel()
		res, err = c.Inventory.CreateProduct(withToken(callCtx, admin.Token), &inventoryv1.CreateProductRequest{
			Sku: "BENCH-" + strings.ToUpper(runID), Name: "Benchmark product " + runID, Description: "created by the load generator",
			Price: &moneyv1.Money{AmountMinor: 990, Currency: "EUR"}, InitialStock: ampleStock,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create product as admin: %w", err)
	}
	f.ProductID = res.GetProduct().GetProductId()

	// Sign-ups and sign-ins hash passwords (Argon2id, 64 MiB): two at a time.
	var wg sync.WaitGroup
	errs := make([]error, n)
	sem := make(chan struct{}, 2)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f.Customers[i], errs[i] = signUp(ctx, p, p.Conn(i), fmt.Sprintf("bench-%s-%d@bench.mercato.test", runID, i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

const customerPassword = "bench-password-1234"

// signUp creates the customer and signs it in. A retried sign-up whose first attempt did
// create the customer (its answer was lost to a timeout) finds it already there: fine.
func signUp(ctx context.Context, p *Pool, c *Clients, email string) (Customer, error) {
	err := retry(ctx, func() error {
		callCtx, cancel := context.WithTimeout(ctx, p.target.timeout())
		defer cancel()
		_, err := c.Customers.CreateCustomer(callCtx, &customersv1.CreateCustomerRequest{
			Email: email, Password: customerPassword, DisplayName: "Bench customer",
		})
		return err
	})
	if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
		return Customer{}, fmt.Errorf("sign up %s: %w", email, err)
	}
	return signIn(ctx, p, c, email, customerPassword)
}

func signIn(ctx context.Context, p *Pool, c *Clients, email, password string) (Customer, error) {
	var res *customersv1.SignInResponse
	err := retry(ctx, func() (err error) {
		callCtx, cancel := context.WithTimeout(ctx, p.target.timeout())
		defer cancel()
		res, err = c.Customers.SignIn(callCtx, &customersv1.SignInRequest{Email: email, Password: password})
		return err
	})
	if err != nil {
		return Customer{}, fmt.Errorf("sign in %s: %w", email, err)
	}
	return Customer{ID: res.GetCustomer().GetCustomerId(), Email: email, Token: res.GetAccessToken()}, nil
}

// retry repeats a set-up call that timed out or found its upstream unavailable (password
// hashing on a busy machine can outlast the edge's route timeout), up to 5 attempts.
func retry(ctx context.Context, call func() error) error {
	var err error
	for attempt := range 5 {
		if err = call(); err == nil {
			return nil
		}
		if code := connect.CodeOf(err); code != connect.CodeUnavailable && code != connect.CodeDeadlineExceeded {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		}
	}
	return err
}

// withToken returns ctx whose calls carry "Authorization: Bearer token".
func withToken(ctx context.Context, token string) context.Context {
	ctx, call := connect.NewClientContext(ctx)
	call.RequestHeader().Set("Authorization", "Bearer "+token)
	return ctx
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
