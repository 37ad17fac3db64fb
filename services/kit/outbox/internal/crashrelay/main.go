// Command crashrelay runs one outbox relay for the relay crash test: built with -tags
// faultinject and OUTBOX_FAULT=kill-after-publish, it kills itself after publishing its first
// batch and before marking it sent.
//
// Environment: CRASHRELAY_DATABASE_URL (an orders database), CRASHRELAY_NATS_URL,
// CRASHRELAY_OWNER, CRASHRELAY_LEASE (a duration), SPIFFE_ENDPOINT_SOCKET (it connects to the
// broker as orders).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mercato.dev/ent/database"
	ordersmigrate "mercato.dev/ent/orders/migrate"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/outbox"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashrelay:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lease, err := time.ParseDuration(os.Getenv("CRASHRELAY_LEASE"))
	if err != nil {
		return fmt.Errorf("CRASHRELAY_LEASE: %w", err)
	}
	db, err := database.Open(ctx, os.Getenv("CRASHRELAY_DATABASE_URL"), ordersmigrate.Migrations)
	if err != nil {
		return err
	}
	defer db.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	src, err := identity.Open(ctx, os.Getenv("SPIFFE_ENDPOINT_SOCKET"), identity.Service("orders"))
	if err != nil {
		return err
	}
	defer src.Close()
	nc, js, err := events.Connect(os.Getenv("CRASHRELAY_NATS_URL"), "crashrelay", src, logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := outbox.NewSQLStore(db.SQL(), db.Dialect(), "outbox_events")
	if err != nil {
		return err
	}
	relay, err := outbox.NewRelay(store, js, outbox.Options{
		Owner: os.Getenv("CRASHRELAY_OWNER"), Lease: lease, PublishTimeout: lease / 2, Logger: logger,
	})
	if err != nil {
		return err
	}
	return relay.Run(ctx)
}
