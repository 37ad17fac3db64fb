// Command spire-x509pop writes the certificates of SPIRE's x509pop node attestation for compose
// (make compose-bootstrap) and for `make test-spire`: a CA the server trusts and an agent
// certificate signed by it. Run again, it keeps what is valid and renews the agent certificate
// within 30 days of its expiry.
//
//	spire-x509pop -dir .spire/x509pop -cn mercato-compose-agent
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"mercato.dev/certs/x509pop"
)

func main() {
	dir := flag.String("dir", ".spire/x509pop", "directory for ca.pem, ca-key.pem, agent.pem, agent-key.pem")
	cn := flag.String("cn", "mercato-compose-agent", "the agent certificate's common name (x509pop:subject:cn selector)")
	flag.Parse()
	if err := x509pop.Ensure(*dir, *cn, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
