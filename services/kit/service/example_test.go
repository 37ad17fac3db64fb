package service_test

import (
	"context"
	"os"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/service"
)

// A service's whole main: configuration, identity, server, database and shutdown come from the
// kit; setup only registers what is the service's own, each handler with who may call it.
func ExampleMain() {
	setup := func(ctx context.Context, rt *service.Runtime) error {
		const hello = "/example.v1.HelloService/Hello"
		h := connect.NewUnaryHandlerSimple(hello, func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			return wrapperspb.String("hello " + in.GetValue()), nil
		}, rt.Server.HandlerOptions()...)
		rt.Server.Handle("/example.v1.HelloService/", h, authz.Rules{hello: authz.Allow(identity.Edge)})
		return nil
	}
	os.Exit(service.Main("customers", setup))
}
