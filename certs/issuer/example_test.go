package issuer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"mercato.dev/certs/issuer"
)

// An issuer serving this very program, and go-spiffe's client fetching its
// SVID from the socket.
func Example() {
	dir, _ := os.MkdirTemp("", "sp")
	defer os.RemoveAll(dir)
	self, _ := os.Executable()
	iss, err := issuer.New(issuer.Config{
		TrustDomain: spiffeid.RequireTrustDomainFromString("mercato.local"),
		SocketPath:  filepath.Join(dir, "agent.sock"),
		RootDir:     dir,
		Entries: []issuer.Entry{{
			ID:        spiffeid.RequireFromString("spiffe://mercato.local/example"),
			Selectors: []string{"unix:path:" + self},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- iss.Serve(ctx) }()
	<-iss.Ready()

	svid, err := workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr("unix://"+filepath.Join(dir, "agent.sock")))
	if err != nil {
		fmt.Println(err)
	} else {
		fmt.Println(svid.ID)
	}
	stop()
	fmt.Println(<-served)
	// Output:
	// spiffe://mercato.local/example
	// <nil>
}
