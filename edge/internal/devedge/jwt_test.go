package devedge_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/kit/claims"
)

func TestJWTOnProtectedRoutes(t *testing.T) {
	t.Parallel()
	f := &fakeInventory{name: "inv"}
	h := startInventory(t, f)

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forger, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: otherKey, KeyID: "k1"}}, nil)
	unknownKid, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: h.signKey, KeyID: "k2"}}, nil)
	expired := validClaims("cust-1")
	expired.Expiry = josejwt.NewNumericDate(time.Now().Add(-2 * time.Minute)) // beyond Envoy's 60s skew
	notYet := validClaims("cust-1")
	notYet.NotBefore = josejwt.NewNumericDate(time.Now().Add(5 * time.Minute))
	wrongIssuer := validClaims("cust-1")
	wrongIssuer.Issuer = "someone.else"
	wrongAudience := validClaims("cust-1")
	wrongAudience.Audience = josejwt.Audience{"elsewhere"}

	tests := []struct {
		name     string
		auth     string
		status   int
		message  string
		approved bool
	}{
		{"missing", "", 401, "Jwt is missing", false},
		{"not a bearer token", "Basic dXNlcjpwYXNz", 401, "Jwt is missing", false},
		{"malformed", "Bearer abc.def", 401, "Jwt is not in the form", false},
		{"signed by another key", "Bearer " + h.token(forger, validClaims("cust-1")), 401, "Jwt verification fails", false},
		{"unknown kid", "Bearer " + h.token(unknownKid, validClaims("cust-1")), 401, "Jwks doesn't have key", false},
		{"expired", "Bearer " + h.token(nil, expired), 401, "Jwt is expired", false},
		{"not yet valid", "Bearer " + h.token(nil, notYet), 401, "Jwt not yet valid", false},
		{"wrong issuer", "Bearer " + h.token(nil, wrongIssuer), 401, "Jwt issuer is not configured", false},
		{"wrong audience", "Bearer " + h.token(nil, wrongAudience), 403, "Audiences in Jwt are not allowed", false},
		{"valid", "Bearer " + h.token(nil, validClaims("cust-1")), 200, "", true},
	}
	client := h.client(true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.updates.Load()
			req, _ := http.NewRequest(http.MethodPost, h.base()+inventory+"UpdateProduct", strings.NewReader(`{"productId":"`+productID+`","name":"x"}`))
			req.Header.Set("Content-Type", "application/json")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.message) {
				t.Fatalf("got %d %q, want %d %q", res.StatusCode, body, tt.status, tt.message)
			}
			if tt.status == 401 || tt.status == 403 {
				wa := res.Header.Get("Www-Authenticate")
				wantErr := tt.name != "missing" && tt.name != "not a bearer token"
				if !strings.HasPrefix(wa, `Bearer realm="https://`) || strings.Contains(wa, `error="invalid_token"`) != wantErr {
					t.Errorf("www-authenticate %q", wa)
				}
			}
			if reached := f.updates.Load() > before; reached != tt.approved {
				t.Errorf("upstream reached: %v, want %v", reached, tt.approved)
			}
			if tt.approved && !strings.Contains(body, `"description":"cust-1"`) {
				t.Errorf("upstream did not see the claims' subject: %s", body)
			}
		})
	}
}

func TestJWTFailureInEveryProtocol(t *testing.T) {
	t.Parallel()
	h := startInventory(t, &fakeInventory{name: "inv"})
	for name, opts := range map[string][]connect.ClientOption{
		"connect": nil, "grpc": {connect.WithGRPC()}, "grpc-web": {connect.WithGRPCWeb()},
	} {
		_, err := inventoryClient(h.client(true), h.base(), opts...).UpdateProduct(context.Background(),
			&inventoryv1.UpdateProductRequest{ProductId: productID, Name: new("x")})
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}
	// gRPC gets Envoy's gRPC local reply: HTTP 200, grpc-status 16 in the headers.
	req, _ := http.NewRequest(http.MethodPost, h.base()+inventory+"UpdateProduct", strings.NewReader("\x00\x00\x00\x00\x00"))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	res, err := h.client(true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	if res.StatusCode != 200 || res.Header.Get("Grpc-Status") != "16" || res.Header.Get("Grpc-Message") != "Jwt is missing" {
		t.Errorf("raw gRPC: %d grpc-status %q grpc-message %q", res.StatusCode, res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message"))
	}
}

// TestForgedClaimsAreStripped: an inbound x-mercato-claims never reaches a service — on an
// anonymous route it is dropped, on a protected one replaced by the verified payload.
func TestForgedClaimsAreStripped(t *testing.T) {
	t.Parallel()
	h := startInventory(t, &fakeInventory{name: "inv"})
	forged := claims.Encode(claims.Claims{Subject: "admin-by-forgery", Roles: []string{"admin"}})
	client := inventoryClient(h.client(true), h.base())

	withHeaders := func(kv ...string) context.Context {
		ctx, call := connect.NewClientContext(context.Background())
		for i := 0; i < len(kv); i += 2 {
			call.RequestHeader().Set(kv[i], kv[i+1])
		}
		return ctx
	}
	get := &inventoryv1.GetProductRequest{ProductId: productID}
	res, err := client.GetProduct(withHeaders(claims.Header, forged), get)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetProduct().GetDescription(); got != "" {
		t.Errorf("anonymous route: upstream saw claims for %q", got)
	}

	// A token on an anonymous route is not verified and adds no claims, even a bad one.
	res, err = client.GetProduct(withHeaders(claims.Header, forged, "Authorization", "Bearer not.a.token"), get)
	if err != nil || res.GetProduct().GetDescription() != "" {
		t.Errorf("anonymous route with a bad token: %v %v", res, err)
	}

	upd := &inventoryv1.UpdateProductRequest{ProductId: productID, Name: new("x")}
	ures, err := client.UpdateProduct(withHeaders(claims.Header, forged, "Authorization", "Bearer "+h.token(nil, validClaims("cust-7"))), upd)
	if err != nil {
		t.Fatal(err)
	}
	if got := ures.GetProduct().GetDescription(); got != "cust-7" {
		t.Errorf("protected route: upstream saw subject %q, want cust-7 from the token", got)
	}
}

// TestJWKSIsCached: the JWKS is fetched once (through the customers cluster, over mTLS) for
// many verifications within cache_duration.
func TestJWKSIsCached(t *testing.T) {
	t.Parallel()
	h := startInventory(t, &fakeInventory{name: "inv"})
	client := inventoryClient(h.client(true), h.base())
	for range 5 {
		ctx, call := connect.NewClientContext(context.Background())
		call.RequestHeader().Set("Authorization", "Bearer "+h.token(nil, validClaims("cust-1")))
		if _, err := client.UpdateProduct(ctx, &inventoryv1.UpdateProductRequest{ProductId: productID, Name: new("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.jwksFetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
