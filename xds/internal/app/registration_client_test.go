package app_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"

	"mercato.dev/services/kit/registration"
	"mercato.dev/xds/internal/app"
)

// startPlane runs a control plane with the repository's routes and a short TTL.
func startRegistrationPlane(t *testing.T, env *kittest.Env, ttl time.Duration) *app.App {
	t.Helper()
	data, err := os.ReadFile("../../../edge/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	routes := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(routes, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{
		ADSAddr: "127.0.0.1:0", RegistrationAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		RoutesFile: routes, DataDir: dir, EndpointTTL: ttl, DrainTimeout: time.Second,
	}, env.Source(t, identity.XDS), slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func registered(a *app.App, cluster string) int { return len(a.Registry.Instances()[cluster]) }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run starts registration.Run as caller and returns a function that stops it and reports how
// long Run took to return.
func run(t *testing.T, env *kittest.Env, caller spiffeid.ID, addr, cluster string) func() time.Duration {
	t.Helper()
	conn := env.Dial(t, caller, addr, identity.XDS)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- registration.Run(ctx, conn, cluster, "127.0.0.1", "8102", slog.New(slog.DiscardHandler))
	}()
	return func() time.Duration {
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		return time.Since(start)
	}
}

func TestRunRegistersHeartbeatsAndDeregisters(t *testing.T) {
	t.Parallel()
	const ttl = 600 * time.Millisecond
	env := kittest.Start(t, []spiffeid.ID{identity.XDS, inventoryID})
	a := startRegistrationPlane(t, env, ttl)
	stop := run(t, env, inventoryID, a.RegistrationAddr(), "inventory")
	waitUntil(t, "registration", func() bool { return registered(a, "inventory") == 1 })
	time.Sleep(3 * ttl) // heartbeats keep it
	if registered(a, "inventory") != 1 {
		t.Fatalf("instance expired while Run was heartbeating")
	}
	// The control plane forgets it (a restart): the next heartbeat gets not_found and Run
	// registers again.
	id := a.Registry.Instances()["inventory"][0].ID
	a.Registry.Deregister("inventory", id)
	waitUntil(t, "registration again", func() bool { return registered(a, "inventory") == 1 })
	if again := a.Registry.Instances()["inventory"][0].ID; again != id {
		t.Errorf("registered again as %s, want the same instance ID %s", again, id)
	}
	took := stop()
	if registered(a, "inventory") != 0 {
		t.Error("still registered after Run returned")
	}
	if took > 2*time.Second {
		t.Errorf("Run took %s to stop", took)
	}
}

func TestRunIsBestEffort(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.XDS, inventoryID, identity.Service("orders")})
	a := startRegistrationPlane(t, env, time.Second)
	t.Run("refused", func(t *testing.T) {
		stop := run(t, env, identity.Service("orders"), a.RegistrationAddr(), "inventory")
		time.Sleep(300 * time.Millisecond)
		if registered(a, "inventory") != 0 {
			t.Error("orders registered into inventory")
		}
		stop()
	})
	t.Run("unreachable", func(t *testing.T) {
		stop := run(t, env, inventoryID, "127.0.0.1:1", "inventory")
		time.Sleep(300 * time.Millisecond)
		if took := stop(); took > time.Second {
			t.Errorf("Run took %s to stop while the control plane was unreachable", took)
		}
	})
	t.Run("bad port", func(t *testing.T) {
		conn := env.Dial(t, inventoryID, a.RegistrationAddr(), identity.XDS)
		if err := registration.Run(context.Background(), conn, "inventory", "127.0.0.1", "http", slog.New(slog.DiscardHandler)); err != nil {
			t.Errorf("Run = %v, want nil (registration is best-effort)", err)
		}
	})
}
