package server

import "net/http"

// growStack grows the calling goroutine's stack in one step, while it is still shallow.
//
// Every HTTP/2 request runs in a new goroutine whose stack starts small; a handler that reaches
// the database goes deep (connect, ent, database/sql and modernc.org/sqlite's translated C use
// large frames), and the runtime then grows the stack several times, each time copying and
// unwinding the whole, deep stack: about a tenth of a service's CPU in the profiles of a loaded
// platform (runtime.copystack under runtime.newstack). One large frame at the top makes the
// runtime allocate a big enough stack at once, copying only this shallow frame. CockroachDB's
// growstack does the same.
//
//go:noinline
func growStack() {
	var buf [growStackBytes]byte
	use(buf[:])
}

// growStackBytes is the frame that growStack asks for: the stack becomes 64 KiB.
const growStackBytes = 32 << 10

//go:noinline
func use([]byte) {}

// withGrownStack runs next on a stack grown once (see growStack).
func withGrownStack(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		growStack()
		next.ServeHTTP(w, r)
	})
}
