package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
)

const (
	echoPrefix    = "/kit.test.v1.EchoService/"
	echoProcedure = echoPrefix + "Echo"
	adminOnly     = echoPrefix + "EdgeOnly"
	noRule        = echoPrefix + "NoRule"
	panics        = echoPrefix + "Panic"
)

var (
	echoSvc = identity.Service("echo")
	caller  = identity.Service("caller")
	other   = identity.Service("other")
)

// echoServer counts handler invocations: a refused call must never reach one.
type echoServer struct{ calls atomic.Int64 }

func (e *echoServer) echo(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	e.calls.Add(1)
	id, _ := identity.Caller(ctx)
	out := in.GetValue() + " from " + id.String()
	if c, ok := claims.From(ctx); ok {
		out += " as " + c.Subject
	}
	return wrapperspb.String(out), nil
}

func (e *echoServer) register(s *server.Server) {
	mux := http.NewServeMux()
	for _, p := range []string{echoProcedure, adminOnly, noRule} {
		// Without side effects: Connect GET reaches it too.
		mux.Handle(p, connect.NewUnaryHandlerSimple(p, e.echo, s.HandlerOptions(connect.WithIdempotency(connect.IdempotencyNoSideEffects))...))
	}
	mux.Handle(panics, connect.NewUnaryHandlerSimple(panics, func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		e.calls.Add(1)
		panic("boom")
	}, s.HandlerOptions()...))
	s.Handle(echoPrefix, mux, authz.Rules{
		echoProcedure: authz.Allow(caller, identity.Edge),
		adminOnly:     authz.Allow(identity.Edge),
		panics:        authz.Allow(caller),
	})
}

type spiffeID = spiffeid.ID

func rulesEcho() authz.Rules {
	return authz.Rules{echoProcedure: authz.Allow(caller, identity.Edge)}
}

func newEnv(t *testing.T) *kittest.Env {
	return kittest.Start(t, []spiffeid.ID{echoSvc, caller, other, identity.Edge})
}

// fixture is an issuer, an echo server and the identities that call it.
type fixture struct {
	env  *kittest.Env
	echo *echoServer
	srv  *server.Server
}

func newFixture(t *testing.T, opts ...func(*server.Options)) *fixture {
	t.Helper()
	f := &fixture{echo: &echoServer{}}
	f.env = newEnv(t)
	f.srv = f.env.Serve(t, "echo", f.echo.register, opts...)
	return f
}

func (f *fixture) client(t *testing.T, id spiffeid.ID, procedure string, opts ...connect.ClientOption) *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue] {
	t.Helper()
	return f.clientOver(f.env.HTTPClient(t, id, echoSvc), procedure, opts...)
}

func (f *fixture) clientOver(hc connect.HTTPClient, procedure string, opts ...connect.ClientOption) *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue] {
	return connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](hc, "https://"+f.srv.Addr()+procedure, opts...)
}

func call(ctx context.Context, c *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue], v string) (string, error) {
	res, err := c.CallUnary(ctx, connect.NewRequest(wrapperspb.String(v)))
	if err != nil {
		return "", err
	}
	return res.Msg.GetValue(), nil
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("error = %v (code %v), want code %v", err, connect.CodeOf(err), code)
	}
}

// isHandshakeRefusal reports an error a client sees when the server refuses its certificate:
// the TLS alert itself, or, when Go's HTTP/2 transport dialed the connection for a pooled
// request, its wrapper that drops the alert ("client conn could not be established").
func isHandshakeRefusal(err error) bool {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "tls:") || strings.Contains(s, "EOF") || strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "client conn could not be established")
}
