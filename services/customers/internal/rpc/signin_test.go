package rpc_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
)

type clientAddrKey struct{}

// fromClient makes the edge's calls carry addr as the end user's address, as the edge does.
func fromClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

var clientAddress = connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if a, ok := ctx.Value(clientAddrKey{}).(string); ok {
			req.Header().Set(claims.ClientAddressHeader, a)
		}
		return next(ctx, req)
	}
})

func counter(t *testing.T, f *fixture, name, label string) float64 {
	t.Helper()
	families, err := f.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			if labelIs(m, label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labelIs(m *dto.Metric, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestSignInThrottledPerAccountAcrossClients: guesses at one account from many client
// addresses are slowed down by the account's backoff; even the right password waits it out.
// Each failure is logged (without the password) and counted.
func TestSignInThrottledPerAccountAcrossClients(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	edge := f.client(t, identity.Edge, connect.WithInterceptors(clientAddress))
	const email, pw, guess = "victim@example.com", "right-password-1", "wrong-guess-XYZ"
	if _, err := edge.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: email, Password: pw, DisplayName: "V"}); err != nil {
		t.Fatal(err)
	}
	var codes []connect.Code
	for i := range 8 {
		_, err := edge.SignIn(fromClient(ctx, "198.51.100."+string(rune('1'+i))), &customersv1.SignInRequest{Email: email, Password: guess})
		codes = append(codes, connect.CodeOf(err))
	}
	t.Logf("8 wrong passwords from 8 clients: %v", codes)
	for i, c := range codes {
		want := connect.CodeUnauthenticated
		if i >= 6 { // five free failures, the sixth starts a 1 s backoff
			want = connect.CodeResourceExhausted
		}
		if c != want {
			t.Errorf("attempt %d: %v, want %v", i+1, c, want)
		}
	}
	_, err := edge.SignIn(fromClient(ctx, "203.0.113.9"), &customersv1.SignInRequest{Email: email, Password: pw})
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "try again in") {
		t.Errorf("the right password during the backoff: %v, want resource_exhausted with a retry time", err)
	}
	if n := counter(t, f, "customers_sign_in_failures_total", "bad_credentials"); n != 6 {
		t.Errorf("customers_sign_in_failures_total{reason=bad_credentials} = %v, want 6", n)
	}
	if n := counter(t, f, "customers_sign_in_throttled_total", "account"); n != 3 {
		t.Errorf("customers_sign_in_throttled_total{scope=account} = %v, want 3", n)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"msg":"sign-in failed"`) || !strings.Contains(logs, `"client":"198.51.100.1"`) || !strings.Contains(logs, `"email":"victim@example.com"`) {
		t.Errorf("no failed sign-in logged with its account and client:\n%s", logs)
	}
	if strings.Contains(logs, guess) || strings.Contains(logs, pw) {
		t.Error("a password reached the logs")
	}
}

// TestSignInBurstFromOneClient: 300 concurrent wrong passwords from one client address: most
// are refused at once (attempts in flight per client and per account), none hashes beyond
// the bound, and the burst meets resource_exhausted before it ends.
func TestSignInBurstFromOneClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := fromClient(t.Context(), "192.0.2.50")
	edge := f.client(t, identity.Edge, connect.WithInterceptors(clientAddress))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[connect.Code]int{}
	for i := range 300 {
		wg.Go(func() {
			email := "burst" + strings.Repeat("x", i%7) + "@example.com" // a few accounts
			_, err := edge.SignIn(ctx, &customersv1.SignInRequest{Email: email, Password: "wrong-password"})
			mu.Lock()
			codes[connect.CodeOf(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("300 concurrent wrong sign-ins from one client: %v", codes)
	if codes[connect.CodeResourceExhausted] == 0 || codes[connect.CodeUnauthenticated] == 0 ||
		codes[connect.CodeResourceExhausted]+codes[connect.CodeUnauthenticated] != 300 {
		t.Errorf("codes %v: want only unauthenticated and resource_exhausted, both present", codes)
	}
	if codes[connect.CodeUnauthenticated] > 40 {
		t.Errorf("%d wrong passwords were checked; the client bound is 20 free failures plus 8 in flight", codes[connect.CodeUnauthenticated])
	}
}
