package server_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"
)

func TestEveryProtocolReachesTheHandler(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h2 := f.env.HTTPClient(t, caller, echoSvc)
	h1tls := identity.ClientTLS(f.env.Source(t, caller), echoSvc)
	h1tls.NextProtos = []string{"http/1.1"}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: h1tls, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	tests := []struct {
		name string
		hc   *http.Client
		opts []connect.ClientOption
	}{
		{"connect binary h2", h2, nil},
		{"connect json h2", h2, []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc h2", h2, []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web h2", h2, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"connect json http/1.1", h1, []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc-web http/1.1", h1, []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := call(t.Context(), f.clientOver(tt.hc, echoProcedure, tt.opts...), "hi")
			if err != nil {
				t.Fatal(err)
			}
			if want := "hi from " + caller.String(); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestPlainJSONPostWorksLikeCurl(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hc := f.env.HTTPClient(t, caller, echoSvc)
	res, err := hc.Post("https://"+f.srv.Addr()+echoProcedure, "application/json", strings.NewReader(`"curl"`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "curl from "+caller.String()) {
		t.Fatalf("status %d body %s", res.StatusCode, body)
	}
}

func TestAuthorizationIsPerMethodAndDefaultDeny(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name      string
		id        string
		procedure string
		want      connect.Code
	}{
		{"allowed caller", "caller", echoProcedure, 0},
		{"edge allowed too", "edge", echoProcedure, 0},
		{"not in the rule", "other", echoProcedure, connect.CodePermissionDenied},
		{"allowed elsewhere, not here", "caller", adminOnly, connect.CodePermissionDenied},
		{"method without a rule", "edge", noRule, connect.CodePermissionDenied},
		{"path no handler declared", "edge", "/kit.test.v1.Unknown/Call", connect.CodePermissionDenied},
	}
	ids := map[string]spiffeID{"caller": caller, "edge": identity.Edge, "other": other}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.echo.calls.Load()
			_, err := call(t.Context(), f.client(t, ids[tt.id], tt.procedure), "x")
			if tt.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.want)
			if f.echo.calls.Load() != before {
				t.Error("a refused call reached the handler")
			}
		})
	}
}

func TestClaimsAreBelievedOnlyFromTheEdge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	header := claims.Encode(claims.Claims{Subject: "cust-1", Roles: []string{claims.RoleCustomer}})
	for _, tc := range []struct {
		from spiffeID
		want string
	}{
		{identity.Edge, "x from " + identity.Edge.String() + " as cust-1"},
		{caller, "x from " + caller.String()},
	} {
		req := connect.NewRequest(wrapperspb.String("x"))
		req.Header().Set(claims.Header, header)
		res, err := f.client(t, tc.from, echoProcedure).CallUnary(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.GetValue() != tc.want {
			t.Errorf("from %s: got %q, want %q", tc.from, res.Msg.GetValue(), tc.want)
		}
	}
}

func TestPanicBecomesInternalAndServerSurvives(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := call(t.Context(), f.client(t, caller, panics), "x")
	wantCode(t, err, connect.CodeInternal)
	if strings.Contains(err.Error(), "boom") {
		t.Errorf("panic value leaked to the client: %v", err)
	}
	if _, err := call(t.Context(), f.client(t, caller, echoProcedure), "x"); err != nil {
		t.Fatalf("server unusable after a panic: %v", err)
	}
}

func TestOversizedRequestIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *server.Options) { o.ReadMaxBytes = 1024 })
	_, err := call(t.Context(), f.client(t, caller, echoProcedure), strings.Repeat("x", 4096))
	wantCode(t, err, connect.CodeResourceExhausted)
}

func TestReadinessHealthAndMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := "http://" + f.srv.AdminAddr()
	status, body := get(t, admin+"/readyz")
	if status != http.StatusOK || !strings.Contains(body, `"svid":"ok"`) {
		t.Fatalf("readyz = %d %s", status, body)
	}
	f.srv.ReportReady("broker", func(context.Context) error { return io.ErrClosedPipe })
	status, body = get(t, admin+"/readyz")
	if status != http.StatusOK || !strings.Contains(body, `"broker":"`+io.ErrClosedPipe.Error()+`"`) {
		t.Fatalf("readyz with a failing informational check = %d %s, want 200 showing it", status, body)
	}
	f.srv.CheckReady("database", func(context.Context) error { return io.ErrUnexpectedEOF })
	status, body = get(t, admin+"/readyz")
	var doc struct {
		Ready  bool
		Checks map[string]string
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if status != http.StatusServiceUnavailable || doc.Ready || doc.Checks["database"] != io.ErrUnexpectedEOF.Error() {
		t.Fatalf("readyz with a failing check = %d %s", status, body)
	}
	if status, _ := get(t, admin+"/healthz"); status != http.StatusOK {
		t.Errorf("healthz = %d", status)
	}
	_, _ = call(t.Context(), f.client(t, caller, echoProcedure), "x")
	_, _ = call(t.Context(), f.client(t, other, echoProcedure), "x")
	_, metrics := get(t, admin+"/metrics")
	for _, want := range []string{
		`rpc_server_duration_seconds_count{code="ok",procedure="` + echoProcedure + `"} 1`,
		`rpc_server_refused_total{procedure="` + echoProcedure + `"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if status, _ := get(t, admin+echoProcedure); status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		t.Errorf("admin port answered an RPC path with %d", status)
	}
}

func TestShutdownDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	f := &fixture{echo: &echoServer{}}
	f.env = newEnv(t)
	release := make(chan struct{})
	slow := func(s *server.Server) {
		s.Handle(echoPrefix, connect.NewUnaryHandlerSimple(echoProcedure, func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			<-release
			return in, nil
		}, s.HandlerOptions()...), rulesEcho())
	}
	srv, stop := f.env.ServeManual(t, "echo", slow)
	f.srv = srv
	c := f.client(t, caller, echoProcedure)
	done := make(chan error, 1)
	go func() { _, err := call(context.Background(), c, "slow"); done <- err }()
	time.Sleep(200 * time.Millisecond) // let the call reach the handler
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(200 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("in-flight call cut by shutdown: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
