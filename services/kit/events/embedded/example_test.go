package embedded_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"mercato.dev/services/kit/events/embedded"
)

func ExampleStart() {
	dir, err := os.MkdirTemp("", "nats")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// The broker's SVID comes from the Workload API (SPIFFE_ENDPOINT_SOCKET).
	src, err := workloadapi.NewX509Source(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	// The broker binary passes Port 4333; 0 picks a free port.
	s, err := embedded.Start(context.Background(), embedded.Options{Dir: dir, Source: src})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown()
	fmt.Println(strings.HasPrefix(s.URL(), "tls://127.0.0.1:"))
}
