// Command edge is Mercato's dev edge, the local stand-in for Envoy (see package devedge):
//
//	edge              serve: an ADS client of the control plane, proxying the public routes
//	edge devcert      create (or keep) the dev CA and server certificate, print their paths
//	edge bootstrap    print envoy.yaml for an Envoy installed on this machine (local socket and ADS)
//
// Settings come from the environment: MERCATO_DATA, SPIFFE_ENDPOINT_SOCKET, EDGE_XDS_ADDR
// [127.0.0.1:18000], EDGE_ADMIN_ADDR [127.0.0.1:9900], EDGE_DEBUG_ADDR [none: a loopback pprof
// listener], EDGE_DEV_CERT ["on": make
// $MERCATO_DATA/edge/{ca,cert,key}.pem at start; "off"], LOG_LEVEL, DRAIN_TIMEOUT.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"mercato.dev/services/kit/config"
)

func main() {
	config.TuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "edge: configuration: %v\n", err)
		os.Exit(2)
	}
	if err := run(ctx, cfg, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "edge: %v\n", err)
		os.Exit(1)
	}
}
