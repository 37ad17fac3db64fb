package hcm

// growStack grows the calling goroutine's stack in one step, while it is still shallow, as the
// kit's servers do (services/kit/server/stack.go).
//
// Every HTTP/2 request runs in a new goroutine whose stack starts small; the proxy path (filters,
// httputil.ReverseProxy, the cluster, the HTTP/2 client) goes deep enough that the runtime grew
// it per request, copying and unwinding a stack already 15 to 30 frames deep (runtime.copystack
// under runtime.newstack: ~5 % of the edge's CPU under GetProduct load). One large frame at the
// top makes the runtime allocate a big enough stack at once, copying only this shallow frame.
//
// The size is the edge's own: 8 KiB is what its request path needs now that the access line
// no longer goes through slog and encoding/json, and a stack up to 16 KiB comes from the
// runtime's per-P cache, where a larger one takes the heap's lock (a 32 KiB stack cost more
// than the growth it saved).
//
//go:noinline
func growStack() {
	var buf [growStackBytes]byte
	use(buf[:])
}

// growStackBytes is the frame that growStack asks for: the stack becomes 8 KiB.
const growStackBytes = 4 << 10

//go:noinline
func use([]byte) {}
