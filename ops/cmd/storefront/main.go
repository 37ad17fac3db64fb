// Command storefront serves the built web storefront (web/dist) on its own origin; see package
// mercato.dev/ops/storefront. Settings: WEB_ADDR (listen address, default 127.0.0.1:5173),
// WEB_DIR (default web/dist), WEB_EDGE_URL (where the page sends every call, default
// https://localhost:8443). It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mercato.dev/ops/storefront"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "storefront:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := envOr("WEB_ADDR", storefront.DefaultAddr)
	handler, err := storefront.Handler(envOr("WEB_DIR", storefront.DefaultDir), envOr("WEB_EDGE_URL", storefront.DefaultEdgeURL))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("storefront serving", "addr", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
