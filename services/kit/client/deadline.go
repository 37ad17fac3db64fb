package client

import (
	"context"
	"time"

	"connectrpc.com/connect"
)

// deadlineInterceptor gives every call a deadline: the caller's remaining one, capped at max.
// connect sends it to the server in the protocol's timeout header, so it propagates hop by hop.
func deadlineInterceptor(max time.Duration) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > max {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, max)
				defer cancel()
			}
			return next(ctx, req)
		}
	})
}
