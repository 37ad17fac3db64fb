package rpc_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/proto/catalog"
	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"

	"mercato.dev/services/customers/internal/customer"
	"mercato.dev/services/customers/internal/rpc"
	"mercato.dev/services/customers/tokenverify"
)

func TestEveryProtocolReachesTheHandlers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	protocols := map[string][]connect.ClientOption{
		"connect binary": nil,
		"connect json":   {connect.WithProtoJSON()},
		"grpc":           {connect.WithGRPC()},
		"grpc-web":       {connect.WithGRPCWeb()},
	}
	for name, opts := range protocols {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := f.client(t, identity.Edge, opts...)
			email := strings.ReplaceAll(name, " ", "-") + "@Example.com"
			created, err := c.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: email, Password: "password1", DisplayName: name})
			if err != nil {
				t.Fatal(err)
			}
			cu := created.GetCustomer()
			if cu.GetEmail() != strings.ToLower(email) || !slices.Equal(cu.GetRoles(), []string{"customer"}) ||
				cu.GetStatus() != customersv1.CustomerStatus_CUSTOMER_STATUS_ACTIVE || cu.GetCreateTime() == nil {
				t.Errorf("created %v", cu)
			}
			signed, err := c.SignIn(ctx, &customersv1.SignInRequest{Email: email, Password: "password1"})
			if err != nil {
				t.Fatal(err)
			}
			if signed.GetTokenType() != "Bearer" || signed.GetExpiresIn() != 900 || signed.GetCustomer().GetCustomerId() != cu.GetCustomerId() {
				t.Errorf("sign-in answer %v", signed)
			}
			got, err := c.GetCustomer(asUser(ctx, owner(cu)), &customersv1.GetCustomerRequest{CustomerId: cu.GetCustomerId()})
			if err != nil || got.GetCustomer().GetEmail() != cu.GetEmail() {
				t.Fatalf("get: %v %v", got, err)
			}
			newName := "Renamed " + name
			upd, err := c.UpdateCustomer(asUser(ctx, owner(cu)), &customersv1.UpdateCustomerRequest{CustomerId: cu.GetCustomerId(), DisplayName: &newName})
			if err != nil || upd.GetCustomer().GetDisplayName() != newName || upd.GetCustomer().GetEmail() != cu.GetEmail() {
				t.Fatalf("update: %v %v", upd, err)
			}
		})
	}
}

func TestPlainJSONPostWorksLikeCurl(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hc := f.env.HTTPClient(t, identity.Edge, self)
	post := func(procedure, body string) (int, map[string]any) {
		res, err := hc.Post("https://"+f.srv.Addr()+procedure, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	status, out := post(customersv1connect.CustomerServiceCreateCustomerProcedure,
		`{"email":"curl@example.com","password":"password1","displayName":"Curl"}`)
	if status != http.StatusOK || out["customer"].(map[string]any)["status"] != "CUSTOMER_STATUS_ACTIVE" {
		t.Fatalf("create: %d %v", status, out)
	}
	status, out = post(customersv1connect.CustomerServiceSignInProcedure, `{"email":"curl@example.com","password":"password1"}`)
	if status != http.StatusOK || out["tokenType"] != "Bearer" || out["accessToken"] == "" {
		t.Fatalf("sign in: %d %v", status, out)
	}
	status, out = post(customersv1connect.CustomerServiceSignInProcedure, `{"email":"curl@example.com","password":"password2"}`)
	if status != http.StatusUnauthorized || out["code"] != "unauthenticated" {
		t.Fatalf("wrong password: %d %v", status, out)
	}
}

func TestInvalidRequestsNameTheField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cu, _ := f.signUp(t)
	edge := f.client(t, identity.Edge)
	ctx := asUser(t.Context(), owner(cu))
	name := "x"
	tests := []struct {
		name      string
		call      func() error
		wantPaths []string
		wantRule  string
	}{
		{"bad email", func() error {
			_, err := edge.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: "not-an-email", Password: "password1", DisplayName: "A"})
			return err
		}, []string{"email"}, "string.email"},
		{"short password", func() error {
			_, err := edge.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: "a@example.com", Password: "short", DisplayName: "A"})
			return err
		}, []string{"password"}, "string.min_len"},
		{"everything wrong", func() error {
			_, err := edge.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: "@", Password: "", DisplayName: ""})
			return err
		}, []string{"email", "password", "display_name"}, ""},
		{"bad UUID", func() error {
			_, err := edge.GetCustomer(ctx, &customersv1.GetCustomerRequest{CustomerId: "42"})
			return err
		}, []string{"customer_id"}, "string.uuid"},
		{"update bad UUID and empty name", func() error {
			empty := ""
			_, err := edge.UpdateCustomer(ctx, &customersv1.UpdateCustomerRequest{CustomerId: "x", DisplayName: &empty})
			return err
		}, []string{"customer_id", "display_name"}, ""},
		{"update sets nothing", func() error {
			_, err := edge.UpdateCustomer(ctx, &customersv1.UpdateCustomerRequest{CustomerId: cu.GetCustomerId()})
			return err
		}, []string{""}, "update_customer.at_least_one_field"},
		{"sign-in bad email", func() error {
			_, err := edge.SignIn(ctx, &customersv1.SignInRequest{Email: "nope", Password: "password1"})
			return err
		}, []string{"email"}, "string.email"},
		{"update bad email", func() error {
			bad := "x@"
			_, err := edge.UpdateCustomer(ctx, &customersv1.UpdateCustomerRequest{CustomerId: cu.GetCustomerId(), DisplayName: &name, Email: &bad})
			return err
		}, []string{"email"}, "string.email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, rules := violations(t, tt.call())
			slices.Sort(paths)
			want := slices.Sorted(slices.Values(tt.wantPaths))
			if !slices.Equal(paths, want) {
				t.Errorf("violation paths %q, want %q", paths, want)
			}
			if tt.wantRule != "" && !contains(rules, tt.wantRule) {
				t.Errorf("rules %q, want %q among them", rules, tt.wantRule)
			}
		})
	}
}

// table is ARCHITECTURE.md's authorization table for the customers service.
var table = map[string][]spiffeid.ID{
	customersv1connect.CustomerServiceCreateCustomerProcedure: {identity.Edge},
	customersv1connect.CustomerServiceSignInProcedure:         {identity.Edge},
	customersv1connect.CustomerServiceGetCustomerProcedure:    {identity.Edge, orders},
	customersv1connect.CustomerServiceUpdateCustomerProcedure: {identity.Edge},
	rpc.JWKSPath: {identity.Edge},
}

func TestRulesCoverEveryMethodExactlyAsTheTable(t *testing.T) {
	t.Parallel()
	methods := catalog.MethodsOf("mercato.customers.v1.CustomerService")
	if len(methods) != 4 {
		t.Fatalf("catalog lists %v", methods)
	}
	rules := rpc.Rules()
	for _, m := range methods {
		if _, ok := rules[m]; !ok {
			t.Errorf("%s has no rule", m)
		}
		if _, ok := table[m]; !ok {
			t.Errorf("%s is missing from this test's table", m)
		}
	}
	if len(rules) != len(methods) {
		t.Errorf("%d rules for %d methods", len(rules), len(methods))
	}
	rules[rpc.JWKSPath] = rpc.JWKSRules()[rpc.JWKSPath]
	for procedure, allowed := range table {
		for _, caller := range callers {
			if got, want := slices.Contains(rules[procedure], caller), slices.Contains(allowed, caller); got != want {
				t.Errorf("%s for %s: allowed=%v, want %v", procedure, caller, got, want)
			}
		}
	}
}

// TestAuthorizationTableOverMTLS calls every method as every caller with a valid request
// (and an admin's claims, which only the edge may forward): the table's callers get an
// answer, everyone else permission_denied.
func TestAuthorizationTableOverMTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	target, pw := f.signUp(t)
	calls := map[string]func(c customersv1connect.CustomerServiceClient, n int) error{
		customersv1connect.CustomerServiceCreateCustomerProcedure: func(c customersv1connect.CustomerServiceClient, n int) error {
			_, err := c.CreateCustomer(asUser(t.Context(), adminUser), &customersv1.CreateCustomerRequest{
				Email: fmt.Sprintf("authz%d@example.com", n), Password: "password1", DisplayName: "A"})
			return err
		},
		customersv1connect.CustomerServiceSignInProcedure: func(c customersv1connect.CustomerServiceClient, _ int) error {
			_, err := c.SignIn(t.Context(), &customersv1.SignInRequest{Email: target.GetEmail(), Password: pw})
			return err
		},
		customersv1connect.CustomerServiceGetCustomerProcedure: func(c customersv1connect.CustomerServiceClient, _ int) error {
			_, err := c.GetCustomer(asUser(t.Context(), adminUser), &customersv1.GetCustomerRequest{CustomerId: target.GetCustomerId()})
			return err
		},
		customersv1connect.CustomerServiceUpdateCustomerProcedure: func(c customersv1connect.CustomerServiceClient, _ int) error {
			name := "Changed"
			_, err := c.UpdateCustomer(asUser(t.Context(), adminUser), &customersv1.UpdateCustomerRequest{CustomerId: target.GetCustomerId(), DisplayName: &name})
			return err
		},
	}
	for i, caller := range callers {
		c := f.client(t, caller)
		for _, procedure := range catalog.MethodsOf("mercato.customers.v1.CustomerService") {
			t.Run(procedure+" as "+caller.Path(), func(t *testing.T) {
				err := calls[procedure](c, i)
				if slices.Contains(table[procedure], caller) {
					wantCode(t, err, 0)
				} else {
					wantCode(t, err, connect.CodePermissionDenied)
				}
			})
		}
		t.Run("JWKS as "+caller.Path(), func(t *testing.T) {
			res, _ := f.get(t, caller, rpc.JWKSPath)
			want := http.StatusForbidden
			if caller == identity.Edge {
				want = http.StatusOK
			}
			if res.StatusCode != want {
				t.Errorf("GET %s as %s: %d, want %d", rpc.JWKSPath, caller, res.StatusCode, want)
			}
		})
	}
}

func TestOwnerAndAdminRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ada, _ := f.signUp(t)
	bob, _ := f.signUp(t)
	edge, ord := f.client(t, identity.Edge), f.client(t, orders)
	name := "Changed"
	get := func(c customersv1connect.CustomerServiceClient, user *claims.Claims) error {
		ctx := t.Context()
		if user != nil {
			ctx = asUser(ctx, *user)
		}
		_, err := c.GetCustomer(ctx, &customersv1.GetCustomerRequest{CustomerId: ada.GetCustomerId()})
		return err
	}
	update := func(c customersv1connect.CustomerServiceClient, user *claims.Claims) error {
		ctx := t.Context()
		if user != nil {
			ctx = asUser(ctx, *user)
		}
		_, err := c.UpdateCustomer(ctx, &customersv1.UpdateCustomerRequest{CustomerId: ada.GetCustomerId(), DisplayName: &name})
		return err
	}
	adaClaims, bobClaims := owner(ada), owner(bob)
	adaUpper := claims.Claims{Subject: strings.ToUpper(ada.GetCustomerId()), Roles: []string{"customer"}}
	tests := []struct {
		name string
		call func(customersv1connect.CustomerServiceClient, *claims.Claims) error
		c    customersv1connect.CustomerServiceClient
		user *claims.Claims
		want connect.Code
	}{
		{"owner gets", get, edge, &adaClaims, 0},
		{"owner, ID in upper case, gets", get, edge, &adaUpper, 0},
		{"another customer's is not found", get, edge, &bobClaims, connect.CodeNotFound},
		{"admin gets", get, edge, &adminUser, 0},
		{"edge without claims may not get", get, edge, nil, connect.CodePermissionDenied},
		{"orders gets without claims", get, ord, nil, 0},
		{"orders gets, another customer's claims ignored", get, ord, &bobClaims, 0},
		{"owner updates", update, edge, &adaClaims, 0},
		{"another customer's is not found for update", update, edge, &bobClaims, connect.CodeNotFound},
		{"admin updates", update, edge, &adminUser, 0},
		{"edge without claims may not update", update, edge, nil, connect.CodePermissionDenied},
		{"orders may not update, even with the owner's claims", update, ord, &adaClaims, connect.CodePermissionDenied},
		{"orders may not update, even with an admin's claims", update, ord, &adminUser, connect.CodePermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(tt.c, tt.user), tt.want) })
	}
}

func TestBusinessErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	edge := f.client(t, identity.Edge)
	ada, adaPW := f.signUp(t)
	bob, bobPW := f.signUp(t)

	t.Run("unknown customer is not_found", func(t *testing.T) {
		_, err := edge.GetCustomer(asUser(ctx, adminUser), &customersv1.GetCustomerRequest{CustomerId: "7d9f3a43-5a55-4b0c-8d4c-3f7c9a2f4d10"})
		wantCode(t, err, connect.CodeNotFound)
		name := "x"
		_, err = edge.UpdateCustomer(asUser(ctx, adminUser), &customersv1.UpdateCustomerRequest{CustomerId: "7d9f3a43-5a55-4b0c-8d4c-3f7c9a2f4d10", DisplayName: &name})
		wantCode(t, err, connect.CodeNotFound)
	})
	t.Run("email in use, in any case, is already_exists", func(t *testing.T) {
		_, err := edge.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: strings.ToUpper(ada.GetEmail()), Password: "password1", DisplayName: "A"})
		wantCode(t, err, connect.CodeAlreadyExists)
		taken := strings.ToUpper(ada.GetEmail())
		_, err = edge.UpdateCustomer(asUser(ctx, owner(bob)), &customersv1.UpdateCustomerRequest{CustomerId: bob.GetCustomerId(), Email: &taken})
		wantCode(t, err, connect.CodeAlreadyExists)
	})
	t.Run("email change keeps sign-in working", func(t *testing.T) {
		fresh := "Bob.New@Example.com"
		res, err := edge.UpdateCustomer(asUser(ctx, owner(bob)), &customersv1.UpdateCustomerRequest{CustomerId: bob.GetCustomerId(), Email: &fresh})
		if err != nil || res.GetCustomer().GetEmail() != "bob.new@example.com" {
			t.Fatalf("update email: %v %v", res, err)
		}
		if _, err := edge.SignIn(ctx, &customersv1.SignInRequest{Email: fresh, Password: bobPW}); err != nil {
			t.Errorf("sign in with the new email: %v", err)
		}
		_, err = edge.SignIn(ctx, &customersv1.SignInRequest{Email: bob.GetEmail(), Password: bobPW})
		wantCode(t, err, connect.CodeUnauthenticated)
	})
	t.Run("wrong email, wrong password and inactive look the same", func(t *testing.T) {
		off := customer.StatusInactive
		carol, carolPW := f.signUp(t)
		if _, err := f.store.Update(ctx, mustUUID(t, carol.GetCustomerId()), customer.Changes{Status: &off}); err != nil {
			t.Fatal(err)
		}
		var messages []string
		for _, req := range []*customersv1.SignInRequest{
			{Email: ada.GetEmail(), Password: adaPW + "x"},
			{Email: "nobody@example.com", Password: adaPW},
			{Email: carol.GetEmail(), Password: carolPW},
		} {
			_, err := edge.SignIn(ctx, req)
			wantCode(t, err, connect.CodeUnauthenticated)
			messages = append(messages, err.Error())
		}
		if messages[0] != messages[1] || messages[1] != messages[2] {
			t.Errorf("messages differ: %q", messages)
		}
		got, err := f.client(t, orders).GetCustomer(ctx, &customersv1.GetCustomerRequest{CustomerId: carol.GetCustomerId()})
		if err != nil || got.GetCustomer().GetStatus() != customersv1.CustomerStatus_CUSTOMER_STATUS_INACTIVE {
			t.Errorf("orders sees %v %v, want INACTIVE", got, err)
		}
	})
}

func TestJWKSServesTheKeysThatVerifyIssuedTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cu, pw := f.signUp(t)
	signed, err := f.client(t, identity.Edge).SignIn(t.Context(), &customersv1.SignInRequest{Email: cu.GetEmail(), Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	res, body := f.get(t, identity.Edge, rpc.JWKSPath)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/jwk-set+json" ||
		!strings.Contains(res.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("GET jwks: %d %v", res.StatusCode, res.Header)
	}
	got, err := tokenverify.Verify(body, signed.GetAccessToken(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != cu.GetCustomerId() || !slices.Equal(got.Roles, []string{"customer"}) || got.Kid != f.keys.SigningKid() {
		t.Errorf("claims %+v", got)
	}
	if res, _ := f.get(t, identity.Edge, "/.well-known/other"); res.StatusCode != http.StatusForbidden {
		t.Errorf("another /.well-known/ path: %d, want 403 (no rule)", res.StatusCode)
	}
	post, err := f.env.HTTPClient(t, identity.Edge, self).Post("https://"+f.srv.Addr()+rpc.JWKSPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST jwks: %d, want 405", post.StatusCode)
	}
}

// TestOnlyAnAdminDeactivates: status is an admin's field; a deactivated customer cannot sign in
// and orders sees the status through GetCustomer.
func TestOnlyAnAdminDeactivates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ada, password := f.signUp(t)
	edge := f.client(t, identity.Edge)
	inactive := customersv1.CustomerStatus_CUSTOMER_STATUS_INACTIVE
	deactivate := func(user claims.Claims) (*customersv1.UpdateCustomerResponse, error) {
		return edge.UpdateCustomer(asUser(t.Context(), user), &customersv1.UpdateCustomerRequest{CustomerId: ada.GetCustomerId(), Status: &inactive})
	}
	_, err := deactivate(owner(ada))
	wantCode(t, err, connect.CodePermissionDenied)
	res, err := deactivate(adminUser)
	wantCode(t, err, 0)
	if res.GetCustomer().GetStatus() != inactive {
		t.Fatalf("status after deactivation = %v", res.GetCustomer().GetStatus())
	}
	_, err = edge.SignIn(t.Context(), &customersv1.SignInRequest{Email: ada.GetEmail(), Password: password})
	wantCode(t, err, connect.CodeUnauthenticated)
	got, err := f.client(t, orders).GetCustomer(t.Context(), &customersv1.GetCustomerRequest{CustomerId: ada.GetCustomerId()})
	wantCode(t, err, 0)
	if got.GetCustomer().GetStatus() != inactive {
		t.Errorf("orders sees status %v", got.GetCustomer().GetStatus())
	}
	unspecified := customersv1.CustomerStatus_CUSTOMER_STATUS_UNSPECIFIED
	_, err = edge.UpdateCustomer(asUser(t.Context(), adminUser), &customersv1.UpdateCustomerRequest{CustomerId: ada.GetCustomerId(), Status: &unspecified})
	wantCode(t, err, connect.CodeInvalidArgument)
}
