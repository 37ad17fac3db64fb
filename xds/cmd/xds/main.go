// Command xds is Mercato's xDS control plane: it serves the edge (Envoy or the dev edge) and
// proxyless gRPC clients over ADS from edge/routes.yaml and the endpoints services register.
//
// Environment (flags override): XDS_ADS_ADDR (-ads-addr, 127.0.0.1:18000),
// XDS_REGISTRATION_ADDR (-registration-addr, 127.0.0.1:18001), XDS_ADMIN_ADDR (-admin-addr,
// 127.0.0.1:9100), XDS_ROUTES (-routes, edge/routes.yaml), XDS_ENDPOINT_TTL (-endpoint-ttl,
// 15s), XDS_REMOVAL_GRACE (-removal-grace, 2s), XDS_WARMUP (-warm-up, TTL/3+1s: ADS waits
// this long after start-up so that services re-register first), XDS_PUBLIC_ADDR (overrides routes.yaml's
// listener.address), XDS_EDGE_DATA_DIR (base of relative paths in routes.yaml, default
// MERCATO_DATA), MERCATO_DATA (.data), SPIFFE_ENDPOINT_SOCKET, LOG_LEVEL, DRAIN_TIMEOUT.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"mercato.dev/xds/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
