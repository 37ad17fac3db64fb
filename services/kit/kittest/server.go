package kittest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/client"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"
)

// Serve starts a kit server named name (its SPIFFE ID must be one the Env issues:
// identity.Service(name)) on loopback ports, lets register mount handlers, and stops it at the
// end of the test. It returns once the server is listening.
func (e *Env) Serve(t testing.TB, name string, register func(*server.Server), opts ...func(*server.Options)) *server.Server {
	t.Helper()
	srv, stop := e.ServeManual(t, name, register, opts...)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("kittest: server %s stopped with %v", name, err)
		}
	})
	return srv
}

// ServeManual is Serve for tests that stop the server themselves: stop shuts it down
// gracefully and returns what Serve returned. stop must be called exactly once.
func (e *Env) ServeManual(t testing.TB, name string, register func(*server.Server), opts ...func(*server.Options)) (*server.Server, func() error) {
	t.Helper()
	o := server.Options{
		Name: name, Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		Source: e.Source(t, identity.Service(name)), DrainTimeout: 5 * time.Second,
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := server.New(o)
	if err != nil {
		t.Fatalf("kittest: new server: %v", err)
	}
	register(srv)
	if err := srv.Listen(); err != nil {
		t.Fatalf("kittest: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	return srv, func() error {
		cancel()
		return <-done
	}
}

// Dial connects caller (an ID the Env issues) to the server, expecting it to present server's ID.
func (e *Env) Dial(t testing.TB, caller spiffeid.ID, addr string, server spiffeid.ID, tune ...func(*client.Dependency)) *client.Conn {
	t.Helper()
	dep := client.Dependency{Name: server.Path(), Addr: addr, ID: server}
	for _, f := range tune {
		f(&dep)
	}
	conn, err := client.NewFactory(e.Source(t, caller), nil, nil).Connect(dep)
	if err != nil {
		t.Fatalf("kittest: connect: %v", err)
	}
	t.Cleanup(func() { conn.HTTPClient.CloseIdleConnections() })
	return conn
}

// HTTPClient is a plain mTLS client presenting caller's SVID and expecting server's, with no
// kit policies (for tests of raw protocols).
func (e *Env) HTTPClient(t testing.TB, caller, server spiffeid.ID) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: identity.ClientTLS(e.Source(t, caller), server), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
