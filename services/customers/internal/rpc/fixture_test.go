package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/customers/migrate"
	"mercato.dev/ent/dbtest"
	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"

	"mercato.dev/services/customers/internal/customer"
	"mercato.dev/services/customers/internal/password"
	"mercato.dev/services/customers/internal/rpc"
	"mercato.dev/services/customers/internal/store"
	"mercato.dev/services/customers/internal/token"
)

var (
	self          = identity.Service("customers")
	orders        = identity.Service("orders")
	inventory     = identity.Service("inventory")
	payments      = identity.Service("payments")
	notifications = identity.Service("notifications")
	// callers are the identities the authorization table is checked for.
	callers = []spiffeid.ID{identity.Edge, orders, inventory, payments, notifications, identity.OpsCLI}
)

// fixture is a customers server in-process, on SQLite, with real SVIDs for every caller.
type fixture struct {
	env     *kittest.Env
	srv     *server.Server
	store   *store.Store
	keys    *token.Keyring
	logs    *syncBuffer
	metrics *prometheus.Registry
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, dbtest.SQLite(t))
}

// newFixtureOn is a fixture on the database at url.
func newFixtureOn(t *testing.T, url string) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{env: kittest.Start(t, append([]spiffeid.ID{self}, callers...))}
	f.store = store.New(dbtest.Open(t, url, migrate.Migrations))
	f.keys = token.New(f.store, token.Options{})
	if err := f.keys.Init(ctx); err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(password.TestParams, 4)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := customer.NewService(ctx, f.store, hasher, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	f.logs = &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.metrics = prometheus.NewRegistry()
	f.srv = f.env.Serve(t, "customers", func(s *server.Server) {
		if err := rpc.Register(s, svc, f.keys, logger, f.metrics); err != nil {
			t.Fatal(err)
		}
	})
	return f
}

func (f *fixture) client(t *testing.T, caller spiffeid.ID, opts ...connect.ClientOption) customersv1connect.CustomerServiceClient {
	t.Helper()
	return customersv1connect.NewCustomerServiceClient(f.env.HTTPClient(t, caller, self), "https://"+f.srv.Addr(), opts...)
}

var seq atomic.Int64

// signUp creates a customer through the API as the edge and returns it with its password.
func (f *fixture) signUp(t *testing.T) (*customersv1.Customer, string) {
	t.Helper()
	email := fmt.Sprintf("user%d@example.com", seq.Add(1))
	res, err := f.client(t, identity.Edge).CreateCustomer(t.Context(), &customersv1.CreateCustomerRequest{
		Email: email, Password: "password-" + email, DisplayName: "User",
	})
	if err != nil {
		t.Fatalf("sign up %s: %v", email, err)
	}
	return res.GetCustomer(), "password-" + email
}

// adminUser is an admin's claims, as the edge forwards them from an admin's token.
var adminUser = claims.Claims{Subject: "00000000-0000-4000-8000-000000000001", Roles: []string{claims.RoleCustomer, claims.RoleAdmin}}

// asUser returns ctx whose calls carry the end user's claims, as the edge forwards them.
func asUser(ctx context.Context, c claims.Claims) context.Context {
	ctx, info := connect.NewClientContext(ctx)
	info.RequestHeader().Set(claims.Header, claims.Encode(c))
	return ctx
}

func owner(c *customersv1.Customer) claims.Claims {
	return claims.Claims{Subject: c.GetCustomerId(), Roles: c.GetRoles()}
}

func wantCode(t *testing.T, err error, want connect.Code) {
	t.Helper()
	if got := connect.CodeOf(err); (want == 0 && err != nil) || (want != 0 && got != want) {
		t.Fatalf("error %v (code %v), want code %v", err, got, want)
	}
}

// violations returns the field paths and rule IDs of an invalid_argument error's details.
func violations(t *testing.T, err error) (paths, rules []string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
		t.Fatalf("error %v, want invalid_argument", err)
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			t.Fatal(derr)
		}
		if vs, ok := v.(*validate.Violations); ok {
			for _, viol := range vs.GetViolations() {
				paths = append(paths, protovalidate.FieldPathString(viol.GetField()))
				rules = append(rules, viol.GetRuleId())
			}
		}
	}
	if len(paths) == 0 {
		t.Fatalf("invalid_argument without buf.validate.Violations details: %v", err)
	}
	return paths, rules
}

// get fetches path over mTLS as caller.
func (f *fixture) get(t *testing.T, caller spiffeid.ID, path string) (*http.Response, []byte) {
	t.Helper()
	res, err := f.env.HTTPClient(t, caller, self).Get("https://" + f.srv.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
