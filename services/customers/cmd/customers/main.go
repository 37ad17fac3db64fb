// Command customers runs the customers service: accounts, sign-in, and the JWKS that verifies
// the access tokens it issues. See the module README for its settings.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"mercato.dev/ent/customers/migrate"
	"mercato.dev/services/kit/service"

	"mercato.dev/services/customers/internal/customer"
	"mercato.dev/services/customers/internal/password"
	"mercato.dev/services/customers/internal/rpc"
	"mercato.dev/services/customers/internal/store"
	"mercato.dev/services/customers/internal/token"
)

func main() { os.Exit(service.Main("customers", setup)) }

// setup wires the service from its settings: database, keys, use cases, handlers, admin.
func setup(ctx context.Context, rt *service.Runtime) error {
	cfg, err := loadSettings(rt.Getenv)
	if err != nil {
		return err
	}
	db, err := rt.OpenDatabase(ctx, migrate.Migrations)
	if err != nil {
		return err
	}
	st := store.New(db)
	keys := token.New(st, token.Options{RotateAfter: cfg.RotateKeysAfter})
	if err := keys.Init(ctx); err != nil {
		return err
	}
	hasher, err := password.New(cfg.Argon2, cfg.HashConcurrency)
	if err != nil {
		return err
	}
	limitMemory(rt, cfg)
	svc, err := customer.NewService(ctx, st, hasher, keys)
	if err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, rt, svc, cfg); err != nil {
		return err
	}
	// Deactivations leave through the outbox (stream CUSTOMERS); this service refuses the
	// earlier tokens of a deactivated customer like every other one, by following it.
	if _, err := rt.StartOutboxRelay(db); err != nil {
		return err
	}
	if err := rt.FollowDeactivations(); err != nil {
		return err
	}
	if err := rpc.Register(rt.Server, svc, keys, rt.Logger, rt.Metrics.Registry); err != nil {
		return err
	}
	rt.Go(func(ctx context.Context) error { return keys.Run(ctx, cfg.KeyRefresh, rt.Logger) })
	rt.Logger.Info("signing keys ready", "kid", keys.SigningKid(), "published", len(keys.JWKS().Keys))
	return nil
}

// baseMemory is what the service holds besides password hashes.
const baseMemory = 64 << 20

// limitMemory sets the Go runtime's soft memory limit (unless GOMEMLIMIT is set) to the
// password hashes that may run at once plus a base: each hash leaves 64 MiB of garbage, and
// without a limit the garbage collector lets the heap double before it collects, so a sign-in
// flood would hold several hundred megabytes (382 MB measured, against 266 MB with the limit).
func limitMemory(rt *service.Runtime, cfg settings) {
	if rt.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(cfg.HashConcurrency)*int64(cfg.Argon2.Memory)*1024 + baseMemory
	debug.SetMemoryLimit(limit)
	rt.Logger.Info("memory limit set", "bytes", limit, "hash_concurrency", cfg.HashConcurrency)
}

// bootstrapAdmin creates the configured admin account when it does not exist yet.
func bootstrapAdmin(ctx context.Context, rt *service.Runtime, svc *customer.Service, cfg settings) error {
	if cfg.AdminEmail == "" {
		return nil
	}
	c, created, err := svc.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap admin %s: %w", cfg.AdminEmail, err)
	}
	switch {
	case created:
		rt.Logger.Info("admin account created", "customer_id", c.ID.String(), "email", c.Email)
	case !c.IsAdmin():
		rt.Logger.Warn("admin bootstrap: an account with this email exists without the admin role; left unchanged",
			"customer_id", c.ID.String(), "email", c.Email)
	}
	return nil
}
