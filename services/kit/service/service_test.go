package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/ent/dbtest"
	notificationsmigrate "mercato.dev/ent/notifications/migrate"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/service"
	"mercato.dev/services/kit/telemetry"
)

const echo = "/kit.test.v1.EchoService/Echo"

// started is what setup saw, handed back to the test.
type started struct {
	env                *kittest.Env
	rpcAddr, adminAddr string
	loopStopped        chan struct{}
}

func runService(t *testing.T, setupErr error, loopErr error) (*started, context.CancelFunc, <-chan error) {
	t.Helper()
	return runServiceLogging(t, setupErr, loopErr, telemetry.Discard())
}

// runServiceLogging is runService with its logger and Run's options.
func runServiceLogging(t *testing.T, setupErr error, loopErr error, logger *slog.Logger, opts ...service.Option) (*started, context.CancelFunc, <-chan error) {
	t.Helper()
	svc := identity.Service("notifications")
	env := kittest.Start(t, []spiffeid.ID{svc, identity.Edge})
	cfg := config.Service{
		Name: "notifications", Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", WorkloadAPI: env.Addr,
		DatabaseURL: dbtest.SQLite(t), DrainTimeout: 5 * time.Second,
	}
	got := &started{env: env, loopStopped: make(chan struct{})}
	ready := make(chan struct{})
	setup := func(ctx context.Context, rt *service.Runtime) error {
		if _, err := rt.OpenDatabase(ctx, notificationsmigrate.Migrations); err != nil {
			return err
		}
		h := connect.NewUnaryHandlerSimple(echo, func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			return in, nil
		}, rt.Server.HandlerOptions()...)
		rt.Server.Handle("/kit.test.v1.EchoService/", h, authz.Rules{echo: authz.Allow(identity.Edge)})
		rt.Go(func(ctx context.Context) error {
			defer close(got.loopStopped)
			if loopErr != nil {
				return loopErr
			}
			<-ctx.Done()
			return ctx.Err()
		})
		if err := rt.Server.Listen(); err != nil {
			return err
		}
		got.rpcAddr, got.adminAddr = rt.Server.Addr(), rt.Server.AdminAddr()
		close(ready)
		return setupErr
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg, func(string) string { return "" }, logger, setup, opts...) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return nil, cancel, closedWith(err)
	case <-time.After(20 * time.Second):
		t.Fatal("service did not start within 20s")
	}
	t.Cleanup(cancel)
	return got, cancel, done
}

func closedWith(err error) <-chan error {
	c := make(chan error, 1)
	c <- err
	return c
}

func TestRunServesUntilCanceledThenStopsLoops(t *testing.T) {
	t.Parallel()
	s, cancel, done := runService(t, nil, nil)
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + s.adminAddr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(b)
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{`"database":"ok"`, `"svid":"ok"`, `"ready":true`} {
		if !strings.Contains(body, want) {
			t.Fatalf("readyz %s lacks %s", body, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after a clean shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s of cancellation")
	}
	select {
	case <-s.loopStopped:
	default:
		t.Error("background loop still running after Run returned")
	}
}

// TestWithAccessLog: with WithAccessLog the access lines go to that writer (as the logger would
// have written them), and not to the logger.
func TestWithAccessLog(t *testing.T) {
	t.Parallel()
	var logs, access lockedBuffer
	s, cancel, done := runServiceLogging(t, nil, nil, telemetry.NewLogger(&logs, "notifications", slog.LevelInfo),
		service.WithAccessLog(&access))
	conn := s.env.Dial(t, identity.Edge, s.rpcAddr, identity.Service("notifications"))
	c := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](conn.HTTPClient, conn.BaseURL+echo, conn.Options()...)
	if _, err := c.CallUnary(t.Context(), connect.NewRequest(wrapperspb.String("x"))); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(access.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %q", err, access.String())
	}
	for k, want := range map[string]any{"msg": "rpc", "service": "notifications", "procedure": echo, "code": "ok",
		"caller": identity.Edge.String(), "level": "INFO"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v (%s)", k, rec[k], want, access.String())
		}
	}
	if strings.Contains(logs.String(), `"msg":"rpc"`) {
		t.Errorf("an access line went to the logger: %s", logs.String())
	}
}

// lockedBuffer is a bytes.Buffer for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *lockedBuffer) String() string { return string(b.Bytes()) }

func TestFailingLoopStopsTheProcess(t *testing.T) {
	t.Parallel()
	boom := errors.New("relay lost its database")
	_, _, done := runService(t, nil, boom)
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("Run returned %v, want the loop's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a failed loop did not stop the process")
	}
}

func TestSetupErrorIsReturned(t *testing.T) {
	t.Parallel()
	boom := errors.New("bad wiring")
	_, _, done := runService(t, boom, nil)
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want the setup error", err)
	}
}
