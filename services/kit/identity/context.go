package identity

import (
	"context"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

type callerKey struct{}

// WithCaller returns ctx carrying the authenticated SPIFFE ID of the caller.
func WithCaller(ctx context.Context, id spiffeid.ID) context.Context {
	return context.WithValue(ctx, callerKey{}, id)
}

// Caller returns the SPIFFE ID of the peer that made the current call, as verified by mTLS.
func Caller(ctx context.Context) (spiffeid.ID, bool) {
	id, ok := ctx.Value(callerKey{}).(spiffeid.ID)
	return id, ok
}
