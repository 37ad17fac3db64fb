package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/notifications/migrate"
	"mercato.dev/proto/catalog"
	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"

	"mercato.dev/services/notifications/internal/notification"
	"mercato.dev/services/notifications/internal/rpc"
	"mercato.dev/services/notifications/internal/store"
)

var (
	self    = identity.Service("notifications")
	callers = []spiffeid.ID{identity.Edge, identity.Service("orders"), identity.Service("inventory"),
		identity.Service("payments"), identity.Service("customers"), identity.OpsCLI}
	ada, bob  = uuid.New(), uuid.New()
	adaUser   = claims.Claims{Subject: ada.String(), Roles: []string{claims.RoleCustomer}}
	bobUser   = claims.Claims{Subject: bob.String(), Roles: []string{claims.RoleCustomer}}
	adminUser = claims.Claims{Subject: uuid.NewString(), Roles: []string{claims.RoleCustomer, claims.RoleAdmin}}
)

type fixture struct {
	env *kittest.Env
	srv *server.Server
}

// newFixture serves the API in-process on SQLite, with three notifications for ada.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := kittest.Start(t, append([]spiffeid.ID{self}, callers...))
	svc := notification.NewService(store.New(dbtest.Open(t, dbtest.SQLite(t), migrate.Migrations)), nil)
	for _, kind := range []notification.Kind{notification.KindOrderConfirmed, notification.KindOrderRejected, notification.KindOrderCanceled} {
		n := notification.Notification{EventID: uuid.New(), CustomerID: ada, OrderID: uuid.New(), Kind: kind, Subject: string(kind), Body: "body"}
		if _, err := svc.Record(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	srv := env.Serve(t, "notifications", func(s *server.Server) { rpc.Register(s, svc, slog.New(slog.DiscardHandler)) })
	return &fixture{env: env, srv: srv}
}

func (f *fixture) client(t *testing.T, caller spiffeid.ID, opts ...connect.ClientOption) notificationsv1connect.NotificationServiceClient {
	t.Helper()
	return notificationsv1connect.NewNotificationServiceClient(f.env.HTTPClient(t, caller, self), "https://"+f.srv.Addr(), opts...)
}

func asUser(ctx context.Context, c claims.Claims) context.Context {
	ctx, info := connect.NewClientContext(ctx)
	info.RequestHeader().Set(claims.Header, claims.Encode(c))
	return ctx
}

func list(ctx context.Context, c notificationsv1connect.NotificationServiceClient, customer uuid.UUID, size int32, token string) (*notificationsv1.ListNotificationsResponse, error) {
	return c.ListNotifications(ctx, &notificationsv1.ListNotificationsRequest{CustomerId: customer.String(), PageSize: size, PageToken: token})
}

func TestEveryProtocolPagesThroughNotifications(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, opts := range map[string][]connect.ClientOption{
		"connect binary": nil, "connect json": {connect.WithProtoJSON()}, "grpc": {connect.WithGRPC()}, "grpc-web": {connect.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := f.client(t, identity.Edge, opts...)
			ctx := asUser(t.Context(), adaUser)
			first, err := list(ctx, c, ada, 2, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(first.GetNotifications()) != 2 || first.GetNextPageToken() == "" {
				t.Fatalf("first page %v", first)
			}
			second, err := list(ctx, c, ada, 2, first.GetNextPageToken())
			if err != nil {
				t.Fatal(err)
			}
			if len(second.GetNotifications()) != 1 || second.GetNextPageToken() != "" {
				t.Fatalf("second page %v", second)
			}
			var kinds []notificationsv1.NotificationKind
			for _, n := range append(first.GetNotifications(), second.GetNotifications()...) {
				if n.GetCustomerId() != ada.String() || n.GetCreateTime() == nil || n.GetBody() != "body" {
					t.Errorf("notification %v", n)
				}
				kinds = append(kinds, n.GetKind())
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, []notificationsv1.NotificationKind{1, 2, 3}) {
				t.Errorf("kinds %v, want one of each", kinds)
			}
		})
	}
}

func TestPlainJSONPostWorksLikeCurl(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodPost, "https://"+f.srv.Addr()+notificationsv1connect.NotificationServiceListNotificationsProcedure,
		strings.NewReader(`{"customerId":"`+ada.String()+`","pageSize":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(claims.Header, claims.Encode(adaUser))
	res, err := f.env.HTTPClient(t, identity.Edge, self).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Notifications []map[string]any `json:"notifications"`
		NextPageToken string           `json:"nextPageToken"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || len(out.Notifications) != 1 || out.NextPageToken == "" {
		t.Fatalf("%d %+v %v", res.StatusCode, out, err)
	}
}

func TestInvalidRequestsNameTheField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, identity.Edge)
	ctx := asUser(t.Context(), adminUser)
	tests := []struct {
		name string
		req  *notificationsv1.ListNotificationsRequest
		want []string
	}{
		{"bad UUID", &notificationsv1.ListNotificationsRequest{CustomerId: "nope"}, []string{"customer_id"}},
		{"page too large", &notificationsv1.ListNotificationsRequest{CustomerId: ada.String(), PageSize: 101}, []string{"page_size"}},
		{"negative page", &notificationsv1.ListNotificationsRequest{CustomerId: ada.String(), PageSize: -1}, []string{"page_size"}},
		{"token too long", &notificationsv1.ListNotificationsRequest{CustomerId: ada.String(), PageToken: strings.Repeat("A", 513)}, []string{"page_token"}},
		{"token not ours", &notificationsv1.ListNotificationsRequest{CustomerId: ada.String(), PageToken: "bm90LWEtdG9rZW4"}, []string{"page_token"}},
		{"several", &notificationsv1.ListNotificationsRequest{CustomerId: "x", PageSize: 500}, []string{"customer_id", "page_size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListNotifications(ctx, tt.req)
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
				t.Fatalf("error %v, want invalid_argument", err)
			}
			var paths []string
			for _, d := range ce.Details() {
				if v, err := d.Value(); err == nil {
					if vs, ok := v.(*validate.Violations); ok {
						for _, viol := range vs.GetViolations() {
							paths = append(paths, protovalidate.FieldPathString(viol.GetField()))
						}
					}
				}
			}
			slices.Sort(paths)
			if !slices.Equal(paths, tt.want) {
				t.Errorf("violation paths %q, want %q", paths, tt.want)
			}
		})
	}
}

func TestAuthorizationTable(t *testing.T) {
	t.Parallel()
	methods := catalog.MethodsOf("mercato.notifications.v1.NotificationService")
	if !slices.Equal(methods, []string{notificationsv1connect.NotificationServiceListNotificationsProcedure}) {
		t.Fatalf("catalog lists %v: update this test's table", methods)
	}
	rules := rpc.Rules()
	if len(rules) != len(methods) {
		t.Errorf("%d rules for %d methods", len(rules), len(methods))
	}
	f := newFixture(t)
	for _, m := range methods {
		for _, caller := range callers {
			allowed := caller == identity.Edge // ARCHITECTURE.md: ListNotifications — edge (owner or admin)
			if got := slices.Contains(rules[m], caller); got != allowed {
				t.Errorf("rule %s for %s: %v, want %v", m, caller, got, allowed)
			}
			t.Run(m+" as "+caller.Path(), func(t *testing.T) {
				_, err := list(asUser(t.Context(), adminUser), f.client(t, caller), ada, 0, "")
				if allowed && err != nil {
					t.Errorf("error %v, want the page", err)
				}
				if !allowed && connect.CodeOf(err) != connect.CodePermissionDenied {
					t.Errorf("error %v, want permission_denied", err)
				}
			})
		}
	}
}

func TestOwnerOrAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	edge := f.client(t, identity.Edge)
	adaUpper := claims.Claims{Subject: strings.ToUpper(ada.String()), Roles: []string{claims.RoleCustomer}}
	tests := []struct {
		name    string
		user    *claims.Claims
		want    connect.Code
		wantLen int
	}{
		{"owner", &adaUser, 0, 3},
		{"owner, ID in upper case", &adaUpper, 0, 3},
		{"admin", &adminUser, 0, 3},
		{"another customer's: not found", &bobUser, connect.CodeNotFound, 0},
		{"no claims", nil, connect.CodePermissionDenied, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.user != nil {
				ctx = asUser(ctx, *tt.user)
			}
			res, err := list(ctx, edge, ada, 0, "")
			if connect.CodeOf(err) != tt.want && !(tt.want == 0 && err == nil) {
				t.Fatalf("error %v, want code %v", err, tt.want)
			}
			if len(res.GetNotifications()) != tt.wantLen {
				t.Errorf("%d notifications, want %d", len(res.GetNotifications()), tt.wantLen)
			}
		})
	}
	res, err := list(asUser(t.Context(), bobUser), edge, bob, 0, "")
	if err != nil || len(res.GetNotifications()) != 0 || res.GetNextPageToken() != "" {
		t.Errorf("bob's own empty list: %v %v", res, err)
	}
}
