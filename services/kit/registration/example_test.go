package registration_test

import (
	"context"
	"log/slog"

	"mercato.dev/services/kit/client"
	"mercato.dev/services/kit/identity"

	"mercato.dev/services/kit/registration"
)

// A service keeps its endpoint registered for as long as it runs; Run returns nil when ctx
// ends, after deregistering.
func ExampleRun() {
	var factory *client.Factory // rt.Clients in a service's setup
	run := func(ctx context.Context, logger *slog.Logger) error {
		conn, err := factory.Connect(client.Dependency{Name: "xds", Addr: "127.0.0.1:18001", ID: identity.XDS})
		if err != nil {
			return err
		}
		return registration.Run(ctx, conn, "orders", "127.0.0.1", "8103", logger)
	}
	_ = run // rt.Go(func(ctx context.Context) error { return run(ctx, rt.Logger) })
}
