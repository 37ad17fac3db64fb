// Command broker runs Mercato's event broker: NATS with JetStream, mutual TLS only, presenting
// the SVID of spiffe://mercato.local/broker from the Workload API and rotating it without a
// restart, mapping each client's SPIFFE ID to the NATS user of the bus authorization table
// (busauthz.Platform) and refusing every other client. `mercato up`, compose and Kubernetes run
// this same binary.
//
// Environment (defaults in parentheses):
//
//	BROKER_ADDR             client listener, mTLS (127.0.0.1:4333)
//	BROKER_ADMIN_ADDR       /healthz, /readyz, /metrics, plain HTTP (127.0.0.1:9106)
//	BROKER_DEBUG_ADDR       loopback pprof listener (none; refused unless loopback)
//	BROKER_STORE_DIR        JetStream storage ($MERCATO_DATA/nats)
//	MERCATO_DATA            data directory (.data)
//	SPIFFE_ENDPOINT_SOCKET  Workload API (unix://$MERCATO_DATA/spiffe/agent.sock)
//	LOG_LEVEL               debug, info, warn, error (info)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/telemetry"
)

func main() {
	config.TuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "broker: configuration: %v\n", err)
		os.Exit(2)
	}
	logger := telemetry.NewLogger(os.Stderr, "broker", cfg.LogLevel)
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("exiting", "error", err.Error())
		os.Exit(1)
	}
}
