package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"mercato.dev/certs/issuer"
)

// run builds the issuer and serves until ctx is done.
func run(ctx context.Context, o options) error {
	logger := newLogger(o.logFormat, os.Stderr)
	cfg, err := o.config(logger)
	if err != nil {
		return err
	}
	iss, err := issuer.New(cfg)
	if err != nil {
		return err
	}
	// Registered before serving, so a signal sent once the socket is up
	// never meets the default action (which ends the process).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go handleSignals(ctx, sigs, iss, o.registrations, logger)
	return iss.Serve(ctx)
}

// handleSignals rotates the CA on SIGUSR1 and reloads the registration
// entries on SIGHUP, until ctx is done.
func handleSignals(ctx context.Context, sigs <-chan os.Signal, iss *issuer.Issuer, registrations string, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				rotate(iss, log)
			} else {
				reload(iss, registrations, log)
			}
		}
	}
}

func rotate(iss *issuer.Issuer, log *slog.Logger) {
	log.Info("SIGUSR1: rotating the CA")
	if err := iss.RotateCA(); err != nil {
		log.Error("rotate CA", "err", err)
	}
}

func reload(iss *issuer.Issuer, registrations string, log *slog.Logger) {
	entries, err := issuer.LoadEntries(registrations)
	if err != nil {
		log.Error("SIGHUP: registrations not reloaded", "err", err)
		return
	}
	log.Info("SIGHUP: reloading registrations", "file", registrations)
	iss.SetEntries(entries)
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
