// Command orders is the orders service: order placement as an orchestrated saga across
// customers, inventory and payments, with idempotent CreateOrder, a recovery loop for sagas
// left half-way, and cancellation by compensation. Final states (confirmed, rejected, canceled)
// are announced as events through a transactional outbox and its relay to NATS JetStream.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"mercato.dev/ent/orders/migrate"
	"mercato.dev/services/kit/service"

	"mercato.dev/services/orders/internal/clients"
	"mercato.dev/services/orders/internal/rpc"
	"mercato.dev/services/orders/internal/saga"
	"mercato.dev/services/orders/internal/store"
)

func main() { os.Exit(service.Main("orders", setup)) }

// setup wires the service: database, outbox relay, dependencies, saga, recovery loop and
// handlers.
func setup(ctx context.Context, rt *service.Runtime) error {
	opts, err := sagaOptions(rt.Getenv)
	if err != nil {
		return err
	}
	if opts.Fault != "" && !saga.FaultsCompiled {
		rt.Logger.Warn("ORDERS_FAULT ignored: this binary was built without -tags faultinject", "fault", opts.Fault)
	}
	opts.Logger, opts.Registerer = rt.Logger, rt.Metrics.Registry
	db, err := rt.OpenDatabase(ctx, migrate.Migrations)
	if err != nil {
		return err
	}
	relay, err := rt.StartOutboxRelay(db) // broker down: events wait in the outbox, the service keeps serving
	if err != nil {
		return err
	}
	customers, err := rt.Dependency("customers")
	if err != nil {
		return err
	}
	inventory, err := rt.Dependency("inventory")
	if err != nil {
		return err
	}
	payments, err := rt.Dependency("payments")
	if err != nil {
		return err
	}
	st := store.New(db, store.WithNotify(relay.Notify))
	rt.Metrics.Registry.MustRegister(st.PendingGauge())
	s := saga.New(st, clients.NewCustomers(customers), clients.NewInventory(inventory), clients.NewPayments(payments), opts)
	rt.Logger.Info("saga ready", "owner", s.Owner(), "lease_ttl", opts.LeaseTTL.String())
	rt.Go(s.Recover)
	rt.OnClose(func() error { return s.Close(5 * time.Second) }) // runs before the database closes
	// A deactivated customer's earlier tokens are refused within seconds (package deactivation).
	if err := rt.FollowDeactivations(); err != nil {
		return err
	}
	rpc.Register(rt.Server, rpc.New(s, st, rt.Logger))
	return nil
}

// sagaOptions reads the saga's settings; unset ones take the saga's defaults.
func sagaOptions(getenv func(string) string) (saga.Options, error) {
	o := saga.Options{Fault: getenv("ORDERS_FAULT")}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"ORDERS_LEASE_TTL", &o.LeaseTTL},
		{"ORDERS_RUN_TIMEOUT", &o.RunTimeout},
		{"ORDERS_RECOVER_EVERY", &o.RecoverEvery},
		{"ORDERS_GIVE_UP_AFTER", &o.GiveUpAfter},
		{"ORDERS_RETRY_MAX", &o.RetryMax},
	}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			var err error
			if *d.dst, err = time.ParseDuration(v); err != nil {
				return o, fmt.Errorf("%s: %w", d.name, err)
			}
		}
	}
	if v := getenv("ORDERS_MAX_ATTEMPTS"); v != "" {
		if _, err := fmt.Sscan(v, &o.MaxAttempts); err != nil || o.MaxAttempts < 1 {
			return o, fmt.Errorf("ORDERS_MAX_ATTEMPTS: %q is not a positive number", v)
		}
	}
	return o, o.Validate()
}
