package devedge_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
)

// countingForwarder relays TCP connections to target and counts them: the edge's mTLS goes
// through it untouched.
type countingForwarder struct {
	ln    net.Listener
	conns atomic.Int64
}

func forwardTo(t *testing.T, target string) *countingForwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &countingForwarder{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	return f
}

// TestUpstreamConnectionIsReused: concurrent requests share one HTTP/2 connection to the
// endpoint — the first ones, arriving together at a cluster with no connection yet, wait for one
// dial instead of dialling one each — and an xDS update that leaves the cluster's connection
// settings alone keeps it: nothing is re-dialled (a dial is a full mTLS handshake, no session
// resumption).
func TestUpstreamConnectionIsReused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	f := &fakeInventory{name: "inv"}
	fwd := forwardTo(t, h.serve("inventory", f.register))
	cfg := h.baseConfig(fwd.ln.Addr().String())
	h.start(cfg)
	client := inventoryClient(h.client(true), h.base())
	call := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := client.GetProduct(ctx, &inventoryv1.GetProductRequest{ProductId: productID}); err != nil {
			t.Error(err)
		}
	}
	burst := func() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range 25 {
					call()
				}
			})
		}
		wg.Wait()
	}
	burst() // 16 at once on a cold cluster
	if n := fwd.conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 400 requests, 16 at a time, want 1", n)
	}
	cfg.routes[0].timeout = 3 * time.Second // a new version; the cluster is unchanged
	h.apply(cfg)
	burst()
	if n := fwd.conns.Load(); n != 1 {
		t.Errorf("%d upstream connections after an xDS update that left the cluster alone, want 1", n)
	}
	if got := f.calls.Load(); got != 800 {
		t.Errorf("upstream saw %d calls, want 800", got)
	}
}
