package rpc_test

import (
	"context"
	"errors"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	ent "mercato.dev/ent/payments"
	"mercato.dev/ent/payments/migrate"
	moneyv1 "mercato.dev/proto/gen/go/mercato/money/v1"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/proto/gen/go/mercato/payments/v1/paymentsv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
	"mercato.dev/services/kit/telemetry"
	"mercato.dev/services/payments/internal/payment"
	"mercato.dev/services/payments/internal/rpc"
	"mercato.dev/services/payments/internal/store"
)

var (
	paymentsSvc = identity.Service("payments")
	ordersSvc   = identity.Service("orders")
	owner       = uuid.NewString()
	ownerClaims = claims.Claims{Subject: owner, Roles: []string{claims.RoleCustomer}}
	otherClaims = claims.Claims{Subject: uuid.NewString(), Roles: []string{claims.RoleCustomer}}
	adminClaims = claims.Claims{Subject: uuid.NewString(), Roles: []string{claims.RoleCustomer, claims.RoleAdmin}}
)

// fixture is an in-process payments server on a fresh SQLite database, with an issuer that
// hands out every identity of the platform to this test.
type fixture struct {
	env *kittest.Env
	srv *server.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := kittest.Start(t, []spiffeid.ID{
		paymentsSvc, identity.Edge, ordersSvc, identity.OpsCLI,
		identity.Service("customers"), identity.Service("inventory"), identity.Service("notifications"),
	})
	db := dbtest.Open(t, dbtest.SQLite(t), migrate.Migrations)
	st, err := store.New(ent.NewClient(ent.Driver(db.Driver())), db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	h := rpc.New(payment.New(st), telemetry.Discard())
	srv := env.Serve(t, "payments", func(s *server.Server) { rpc.Register(s, h) })
	return &fixture{env: env, srv: srv}
}

// client calls the server as caller; with claims set, as the edge forwarding an end user's.
func (f *fixture) client(t *testing.T, caller spiffeid.ID, c *claims.Claims, opts ...connect.ClientOption) paymentsv1connect.PaymentServiceClient {
	t.Helper()
	if c != nil {
		opts = append(opts, connect.WithInterceptors(withClaims(*c)))
	}
	return paymentsv1connect.NewPaymentServiceClient(f.env.HTTPClient(t, caller, paymentsSvc), "https://"+f.srv.Addr(), opts...)
}

func (f *fixture) orders(t *testing.T) paymentsv1connect.PaymentServiceClient {
	return f.client(t, ordersSvc, nil)
}

// withClaims sets the claims header the way the edge does.
func withClaims(c claims.Claims) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(claims.Header, claims.Encode(c))
			return next(ctx, req)
		}
	}
}

func authorizeRequest(method string, minor int64) *paymentsv1.AuthorizePaymentRequest {
	return &paymentsv1.AuthorizePaymentRequest{
		OrderId: uuid.NewString(), CustomerId: owner, PaymentMethod: method,
		Amount: &moneyv1.Money{AmountMinor: minor, Currency: "EUR"},
	}
}

func authorize(t *testing.T, c paymentsv1connect.PaymentServiceClient, req *paymentsv1.AuthorizePaymentRequest) *paymentsv1.Payment {
	t.Helper()
	res, err := c.AuthorizePayment(t.Context(), req)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	return res.GetPayment()
}

func wantCode(t *testing.T, err error, code connect.Code) *connect.Error {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	return cerr
}

// fieldPaths lists the field paths of an invalid_argument error's protovalidate detail.
func fieldPaths(t *testing.T, cerr *connect.Error) []string {
	t.Helper()
	var paths []string
	for _, d := range cerr.Details() {
		msg, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := msg.(*validate.Violations); ok {
			for _, violation := range v.GetViolations() {
				paths = append(paths, protovalidate.FieldPathString(violation.GetField()))
			}
		}
	}
	return paths
}
