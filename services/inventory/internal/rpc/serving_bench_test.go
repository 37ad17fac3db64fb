package rpc_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/inventory/migrate"
	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/proto/gen/go/mercato/inventory/v1/inventoryv1connect"
	"mercato.dev/services/inventory/internal/rpc"
	"mercato.dev/services/inventory/internal/stock"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
	"mercato.dev/services/kit/server"
	"mercato.dev/services/kit/telemetry"
)

// BenchmarkServing serves GetProduct over the same mTLS (SPIFFE SVIDs, TLS 1.3) and HTTP/2
// three ways, to the same parallel client load:
//
//	kit:     the inventory service's Connect handler in a kit server (authorization, validation,
//	         metrics, tracing, limits), reading the product from SQLite;
//	nethttp: a trivial net/http handler answering a fixed, pre-encoded Connect response (the
//	         floor: TLS, HTTP/2 and the client), called by the same Connect client;
//	grpc:    grpc-go with a hand-written grpc.ServiceDesc calling the same handler and store.
//
// `make bench` reports kit/nethttp (target ≥ 0.5× the requests per second) and kit/grpc.
func BenchmarkServing(b *testing.B) {
	env := kittest.Start(b, []spiffeid.ID{inventorySvc, identity.Edge, ordersSvc})
	db := dbtest.Open(b, dbtest.SQLite(b), migrate.Migrations)
	h := rpc.New(stock.New(servingStore(db)), telemetry.Discard())
	srv := env.Serve(b, "inventory", func(s *server.Server) { rpc.Register(s, h) })
	admin := inventoryv1connect.NewInventoryServiceClient(env.HTTPClient(b, identity.Edge, inventorySvc), "https://"+srv.Addr(),
		connect.WithInterceptors(withClaims(adminClaims)))
	created, err := admin.CreateProduct(context.Background(), &inventoryv1.CreateProductRequest{
		Sku: "BENCH-SERVE", Name: "Served product", Price: eur(1999), InitialStock: 100,
	})
	if err != nil {
		b.Fatal(err)
	}
	product := created.GetProduct()
	req := &inventoryv1.GetProductRequest{ProductId: product.GetProductId()}

	b.Run("kit", func(b *testing.B) {
		c := inventoryv1connect.NewInventoryServiceClient(env.HTTPClient(b, ordersSvc, inventorySvc), "https://"+srv.Addr())
		parallel(b, func(ctx context.Context) error { _, err := c.GetProduct(ctx, req); return err })
	})

	b.Run("nethttp", func(b *testing.B) {
		body, err := proto.Marshal(&inventoryv1.GetProductResponse{Product: product})
		if err != nil {
			b.Fatal(err)
		}
		addr := serveTrivial(b, env.Source(b, inventorySvc), body)
		c := inventoryv1connect.NewInventoryServiceClient(env.HTTPClient(b, ordersSvc, inventorySvc), "https://"+addr)
		parallel(b, func(ctx context.Context) error { _, err := c.GetProduct(ctx, req); return err })
	})

	b.Run("grpc", func(b *testing.B) {
		addr := serveGRPC(b, env.Source(b, inventorySvc), h)
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(identity.ClientTLS(env.Source(b, ordersSvc), inventorySvc))))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		parallel(b, func(ctx context.Context) error {
			return conn.Invoke(ctx, inventoryv1connect.InventoryServiceGetProductProcedure, req, new(inventoryv1.GetProductResponse))
		})
	})
}

// parallel runs call from GOMAXPROCS×4 goroutines (b.RunParallel) and fails on any error.
func parallel(b *testing.B, call func(context.Context) error) {
	b.Helper()
	ctx := context.Background()
	if err := call(ctx); err != nil { // connect and warm up outside the timing
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// serveTrivial serves body as the Connect unary response to every request, over mTLS + h2.
func serveTrivial(b *testing.B, src identity.Source, body []byte) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig: identity.ServerTLS(src, identity.TrustDomain),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor != 2 {
				http.Error(w, "want HTTP/2, got "+r.Proto, http.StatusHTTPVersionNotSupported)
				return
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 4096))
			w.Header().Set("Content-Type", "application/proto")
			_, _ = w.Write(body)
		}),
	}
	go func() { _ = srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// serveGRPC serves the handler's GetProduct with grpc-go over the same mTLS.
func serveGRPC(b *testing.B, src identity.Source, h *rpc.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(identity.ServerTLS(src, identity.TrustDomain))))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: inventoryv1connect.InventoryServiceName,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "GetProduct",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := new(inventoryv1.GetProductRequest)
				if err := dec(req); err != nil {
					return nil, err
				}
				return h.GetProduct(ctx, req)
			},
		}},
	}, struct{}{})
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(srv.Stop)
	return ln.Addr().String()
}
