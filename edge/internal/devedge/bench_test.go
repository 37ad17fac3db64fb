package devedge_test

import (
	"context"
	"testing"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/kit/identity"
)

// BenchmarkEdgeOverhead compares one unary call (Connect, binary protobuf, HTTP/2) made through
// the edge with the same call made straight to the service: both over TLS with the same client
// code, the direct one with an SVID (the service accepts only mTLS). The difference is what the
// edge adds: a TLS hop, routing, the filter chain and the upstream mTLS connection.
func BenchmarkEdgeOverhead(b *testing.B) {
	h := newHarness(b)
	f := &fakeInventory{name: "inv"}
	addr := h.serve("inventory", f.register)
	h.start(h.baseConfig(addr))
	targets := []struct {
		name string
		call func() error
	}{
		{"direct", caller(inventoryClient(h.env.HTTPClient(b, identity.Edge, identity.Service("inventory")), "https://"+addr))},
		{"edge", caller(inventoryClient(h.client(true), h.base()))},
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			for b.Loop() {
				if err := tg.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, tg := range targets {
		b.Run("parallel-"+tg.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := tg.call(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func caller(c interface {
	GetProduct(context.Context, *inventoryv1.GetProductRequest) (*inventoryv1.GetProductResponse, error)
}) func() error {
	req := &inventoryv1.GetProductRequest{ProductId: productID}
	return func() error {
		_, err := c.GetProduct(context.Background(), req)
		return err
	}
}
