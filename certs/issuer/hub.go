package issuer

import "sync"

// hub tells every open stream that something it may show has changed:
// entries, the bundle or an SVID. Streams re-read their view and send only
// what differs.
type hub struct {
	mu sync.Mutex
	ch chan struct{}
}

func newHub() *hub { return &hub{ch: make(chan struct{})} }

// changed returns a channel closed at the next broadcast.
func (h *hub) changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

// broadcast wakes every stream waiting on changed.
func (h *hub) broadcast() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.ch)
	h.ch = make(chan struct{})
}
