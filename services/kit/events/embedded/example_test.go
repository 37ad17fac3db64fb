package embedded_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"mercato.dev/services/kit/events/embedded"
)

func ExampleStart() {
	dir, err := os.MkdirTemp("", "nats")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// `mercato up` passes Port 4333; 0 picks a free port.
	s, err := embedded.Start(context.Background(), embedded.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown()
	fmt.Println(strings.HasPrefix(s.URL(), "nats://127.0.0.1:"))
	// Output: true
}
