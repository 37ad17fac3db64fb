package main

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/ent/dbtest"
	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"

	"mercato.dev/services/customers/tokenverify"
)

var self = identity.Service("customers")

// tinyArgon2 keeps the binary's hashing fast in tests; the defaults are for servers.
var tinyArgon2 = map[string]string{
	"CUSTOMERS_ARGON2_MEMORY_KIB": "64", "CUSTOMERS_ARGON2_THREADS": "1",
	"CUSTOMERS_ADMIN_EMAIL": "Root@Example.com", "CUSTOMERS_ADMIN_PASSWORD": "root-password",
}

func fetchJWKS(t *testing.T, env *kittest.Env, addr string) []byte {
	t.Helper()
	res, err := env.HTTPClient(t, identity.Edge, self).Get("https://" + addr + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET jwks: %d %s", res.StatusCode, body)
	}
	return body
}

// TestBinarySignInEndToEnd runs the real binary: sign up, sign in, verify the token against the
// JWKS fetched over mTLS as the edge, then restart and find the same key.
func TestBinarySignInEndToEnd(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		env := kittest.Start(t, []spiffeid.ID{identity.Edge, identity.Service("orders")})
		bin := kittest.Build(t, "mercato.dev/services/customers/cmd/customers")
		vars := map[string]string{"CUSTOMERS_DATABASE_URL": url}
		for k, v := range tinyArgon2 {
			vars[k] = v
		}
		p := env.StartService(t, "customers", bin, vars)
		ctx := t.Context()
		edge := customersv1connect.NewCustomerServiceClient(env.HTTPClient(t, identity.Edge, self), "https://"+p.Addr, connect.WithProtoJSON())

		created, err := edge.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: "ada@example.com", Password: "lovelace1", DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		signed, err := edge.SignIn(ctx, &customersv1.SignInRequest{Email: "ADA@example.com", Password: "lovelace1"})
		if err != nil {
			t.Fatal(err)
		}
		jwks := fetchJWKS(t, env, p.Addr)
		got, err := tokenverify.Verify(jwks, signed.GetAccessToken(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != created.GetCustomer().GetCustomerId() || !slices.Equal(got.Roles, []string{"customer"}) ||
			got.Expiry.Sub(got.IssuedAt) != 15*time.Minute {
			t.Errorf("claims %+v", got)
		}
		_, err = edge.SignIn(ctx, &customersv1.SignInRequest{Email: "ada@example.com", Password: "lovelace2"})
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("wrong password: %v, want unauthenticated", err)
		}

		admin, err := edge.SignIn(ctx, &customersv1.SignInRequest{Email: "root@example.com", Password: "root-password"})
		if err != nil {
			t.Fatalf("bootstrapped admin signs in: %v", err)
		}
		adminClaims, err := tokenverify.Verify(jwks, admin.GetAccessToken(), time.Now())
		if err != nil || !slices.Contains(adminClaims.Roles, "admin") {
			t.Fatalf("admin token %+v: %v", adminClaims, err)
		}

		// The orders service reads the customer over gRPC, with no end-user claims.
		ord := customersv1connect.NewCustomerServiceClient(env.HTTPClient(t, identity.Service("orders"), self), "https://"+p.Addr, connect.WithGRPC())
		if _, err := ord.GetCustomer(ctx, &customersv1.GetCustomerRequest{CustomerId: got.Subject}); err != nil {
			t.Errorf("orders GetCustomer over gRPC: %v", err)
		}

		if strings.Count(p.Logs(), "admin account created") != 1 {
			t.Errorf("the first start must create the admin once:\n%s", p.Logs())
		}
		p.Kill()
		p.Restart()
		after := fetchJWKS(t, env, p.Addr)
		if _, err := tokenverify.Verify(after, signed.GetAccessToken(), time.Now()); err != nil {
			t.Errorf("a token from before the restart no longer verifies: %v", err)
		}
		again, err := edge.SignIn(ctx, &customersv1.SignInRequest{Email: "ada@example.com", Password: "lovelace1"})
		if err != nil {
			t.Fatal(err)
		}
		gotAgain, err := tokenverify.Verify(after, again.GetAccessToken(), time.Now())
		if err != nil || gotAgain.Kid != got.Kid {
			t.Errorf("after restart kid %q (%v), want the persisted %q", gotAgain.Kid, err, got.Kid)
		}
		if strings.Contains(p.Logs(), "admin account created") {
			t.Errorf("the restart created the admin again:\n%s", p.Logs())
		}

		// The admin's claims, as the edge would forward them, reach any customer.
		hdrCtx, info := connect.NewClientContext(ctx)
		info.RequestHeader().Set(claims.Header, claims.Encode(claims.Claims{Subject: adminClaims.Subject, Roles: adminClaims.Roles}))
		if _, err := edge.GetCustomer(hdrCtx, &customersv1.GetCustomerRequest{CustomerId: got.Subject}); err != nil {
			t.Errorf("admin GetCustomer: %v", err)
		}
	})
}

func TestSettings(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	s, err := loadSettings(env())
	if err != nil || s.Argon2.Memory != 64*1024 || s.Argon2.Time != 1 || s.Argon2.Threads != 2 || s.RotateKeysAfter != 720*time.Hour || s.AdminEmail != "" {
		t.Errorf("defaults %+v, %v", s, err)
	}
	for name, getenv := range map[string]func(string) string{
		"admin email without password": env("CUSTOMERS_ADMIN_EMAIL", "a@b.c"),
		"short admin password":         env("CUSTOMERS_ADMIN_EMAIL", "a@b.c", "CUSTOMERS_ADMIN_PASSWORD", "short"),
		"argon2 memory not a number":   env("CUSTOMERS_ARGON2_MEMORY_KIB", "lots"),
		"argon2 memory too small":      env("CUSTOMERS_ARGON2_MEMORY_KIB", "4"),
		"rotation every minute":        env("CUSTOMERS_KEY_ROTATE_AFTER", "1m"),
		"key refresh too slow":         env("CUSTOMERS_KEY_REFRESH", "10m"),
		"zero hash concurrency":        env("CUSTOMERS_HASH_CONCURRENCY", "0"),
	} {
		if _, err := loadSettings(getenv); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
