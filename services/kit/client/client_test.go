package client_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/client"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
)

const (
	prefix = "/kit.test.v1.DepService/"
	get    = prefix + "Get"  // idempotent
	post   = prefix + "Post" // not idempotent
)

var (
	dep    = identity.Service("dep")
	caller = identity.Service("caller")
)

// depServer fails with the code in fail (0: succeeds) and records what it saw.
type depServer struct {
	calls   atomic.Int64
	fail    atomic.Int32
	timeout atomic.Int64 // the deadline the last call arrived with, in ms
}

func (d *depServer) handle(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	d.calls.Add(1)
	if dl, ok := ctx.Deadline(); ok {
		d.timeout.Store(time.Until(dl).Milliseconds())
	}
	if c := connect.Code(d.fail.Load()); c != 0 {
		return nil, connect.NewError(c, errors.New("told to fail"))
	}
	return in, nil
}

func (d *depServer) register(s *server.Server) {
	mux := newMux(s, d.handle, get, post)
	s.Handle(prefix, mux, authz.Rules{get: authz.Allow(caller), post: authz.Allow(caller)})
}

func start(t *testing.T) (*kittest.Env, *depServer, string) {
	t.Helper()
	env := kittest.Start(t, []spiffeid.ID{dep, caller})
	d := &depServer{}
	return env, d, env.Serve(t, "dep", d.register).Addr()
}

func newClient(conn *client.Conn, procedure string) *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue] {
	return connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](conn.HTTPClient, conn.BaseURL+procedure, conn.Options()...)
}

func TestRetriesOnlyIdempotentMethods(t *testing.T) {
	t.Parallel()
	env, d, addr := start(t)
	conn := env.Dial(t, caller, addr, dep, func(dp *client.Dependency) {
		dp.Idempotent = []string{get}
		dp.Breaker.Failures = 100
	})
	d.fail.Store(int32(connect.CodeUnavailable))
	tests := []struct {
		procedure string
		code      connect.Code
		wantCalls int64
	}{
		{get, connect.CodeUnavailable, 3},     // the default 3 attempts
		{post, connect.CodeUnavailable, 1},    // never retried: not idempotent
		{get, connect.CodeInvalidArgument, 1}, // a client error is final
	}
	for _, tt := range tests {
		d.fail.Store(int32(tt.code))
		before := d.calls.Load()
		_, err := newClient(conn, tt.procedure).CallUnary(t.Context(), connect.NewRequest(wrapperspb.String("x")))
		if connect.CodeOf(err) != tt.code {
			t.Fatalf("%s: error %v, want %v", tt.procedure, err, tt.code)
		}
		if got := d.calls.Load() - before; got != tt.wantCalls {
			t.Errorf("%s failing with %v: %d attempts, want %d", tt.procedure, tt.code, got, tt.wantCalls)
		}
	}
}

func TestRetryBudgetStopsRetryStorms(t *testing.T) {
	t.Parallel()
	env, d, addr := start(t)
	conn := env.Dial(t, caller, addr, dep, func(dp *client.Dependency) {
		dp.Idempotent = []string{get}
		dp.Breaker.Failures = 1000
	})
	d.fail.Store(int32(connect.CodeUnavailable))
	const calls = 50
	for range calls {
		_, _ = newClient(conn, get).CallUnary(t.Context(), connect.NewRequest(wrapperspb.String("x")))
	}
	// Without a budget: 150 attempts. With 10 tokens, retries stop once 5 are spent.
	if got := d.calls.Load(); got > calls+10 {
		t.Errorf("%d attempts for %d calls during an outage: retries are not budgeted", got, calls)
	}
	t.Logf("%d attempts for %d calls during a total outage", d.calls.Load(), calls)
}

func TestDeadlineIsCappedPerDependencyAndPropagated(t *testing.T) {
	t.Parallel()
	env, d, addr := start(t)
	conn := env.Dial(t, caller, addr, dep, func(dp *client.Dependency) { dp.Timeout = 300 * time.Millisecond })
	c := newClient(conn, get)
	tests := []struct {
		name   string
		caller time.Duration // 0: no deadline
		max    int64
	}{
		{"no caller deadline gets the cap", 0, 300},
		{"a longer caller deadline is capped", time.Minute, 300},
		{"a shorter caller deadline is kept", 100 * time.Millisecond, 100},
	}
	for _, tt := range tests {
		ctx := t.Context()
		if tt.caller > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, tt.caller)
			defer cancel()
		}
		if _, err := c.CallUnary(ctx, connect.NewRequest(wrapperspb.String("x"))); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := d.timeout.Load(); got <= 0 || got > tt.max {
			t.Errorf("%s: server saw a %dms deadline, want (0, %d]", tt.name, got, tt.max)
		}
	}
}

// TestBreakerTripsFailsFastAndRecovers: a dependency that is down trips the breaker after the
// configured failures; later calls fail fast with unavailable without touching the network;
// once the dependency is back, the half-open probe succeeds and the breaker closes.
func TestBreakerTripsFailsFastAndRecovers(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{dep, caller})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the dependency is down
	const failures, openFor = 3, 500 * time.Millisecond
	conn := env.Dial(t, caller, addr, dep, func(dp *client.Dependency) {
		dp.Breaker = client.BreakerPolicy{Failures: failures, OpenFor: openFor}
	})
	c := newClient(conn, post)
	callOnce := func() (time.Duration, error) {
		start := time.Now()
		_, err := c.CallUnary(t.Context(), connect.NewRequest(wrapperspb.String("x")))
		return time.Since(start), err
	}
	for i := range failures {
		if _, err := callOnce(); connect.CodeOf(err) != connect.CodeUnavailable || errors.Is(err, client.ErrBreakerOpen) {
			t.Fatalf("call %d to a down dependency: %v, want a real unavailable", i, err)
		}
	}
	if conn.Breaker.State() != "open" {
		t.Fatalf("breaker %s after %d failures, want open", conn.Breaker.State(), failures)
	}
	took, err := callOnce()
	if !errors.Is(err, client.ErrBreakerOpen) || connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("call with the breaker open: %v", err)
	}
	t.Logf("fail-fast call with the breaker open took %s", took)

	// Bring the dependency up on the same address, then wait for the half-open probe.
	d := &depServer{}
	env.Serve(t, "dep", d.register, func(o *server.Options) { o.Addr = addr })
	opened := time.Now()
	deadline := opened.Add(10 * openFor) // generous: the target is openFor
	for {
		took, err = callOnce()
		if err == nil {
			break
		}
		if !errors.Is(err, client.ErrBreakerOpen) || time.Now().After(deadline) {
			t.Fatalf("recovery: %v after %s", err, time.Since(opened))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if conn.Breaker.State() != "closed" {
		t.Fatalf("breaker %s after a successful probe", conn.Breaker.State())
	}
	t.Logf("recovered %s after the dependency came back (open interval %s); probe call took %s",
		time.Since(opened).Round(time.Millisecond), openFor, took.Round(time.Microsecond))
}

func TestBreakerIgnoresClientErrors(t *testing.T) {
	t.Parallel()
	env, d, addr := start(t)
	conn := env.Dial(t, caller, addr, dep, func(dp *client.Dependency) { dp.Breaker.Failures = 2 })
	d.fail.Store(int32(connect.CodeInvalidArgument))
	for i := range 10 {
		_, err := newClient(conn, post).CallUnary(t.Context(), connect.NewRequest(wrapperspb.String(strconv.Itoa(i))))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if conn.Breaker.State() != "closed" {
		t.Errorf("breaker %s after client errors only", conn.Breaker.State())
	}
}

// TestRetriesFollowTheContractsIdempotencyLevel: generated clients carry the proto's
// idempotency_level in each call's Spec; such calls are retried without being listed.
func TestRetriesFollowTheContractsIdempotencyLevel(t *testing.T) {
	t.Parallel()
	env, d, addr := start(t)
	conn := env.Dial(t, caller, addr, dep, func(dp *client.Dependency) { dp.Breaker.Failures = 100 })
	d.fail.Store(int32(connect.CodeUnavailable))
	c := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](conn.HTTPClient, conn.BaseURL+post,
		conn.Options(connect.WithIdempotency(connect.IdempotencyIdempotent))...)
	_, _ = c.CallUnary(t.Context(), connect.NewRequest(wrapperspb.String("x")))
	if got := d.calls.Load(); got != 3 {
		t.Errorf("%d attempts for a call the contract marks idempotent, want 3", got)
	}
}
