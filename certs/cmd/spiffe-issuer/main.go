// Command spiffe-issuer is Mercato's local SPIFFE issuer: it serves the
// Workload API and Envoy SDS on one unix socket, as a SPIRE agent does in
// deployment, so that nothing in the services or Envoy changes between the
// two.
//
//	spiffe-issuer [--registrations certs/registrations.yaml] [--root .] [--svid-ttl 1h] [--ca-ttl 168h]
//
// The socket is SPIFFE_ENDPOINT_SOCKET (unix:///absolute/path), by default
// $MERCATO_DATA/spiffe/agent.sock; the CA is kept in $MERCATO_DATA/spiffe/ca
// (MERCATO_DATA defaults to .data). SIGUSR1 rotates the CA, SIGHUP reloads
// the registrations, SIGINT and SIGTERM stop it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	opts, err := parseOptions(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spiffe-issuer:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "spiffe-issuer:", err)
		os.Exit(1)
	}
}
