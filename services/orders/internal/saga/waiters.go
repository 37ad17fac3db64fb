package saga

import (
	"sync"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
)

// waiters wakes the calls waiting for an order when a run in this process moves it on. Runs in
// other processes wake no one here; waiting calls poll the store as well.
type waiters struct {
	mu sync.Mutex
	m  map[uuid.UUID]*waiting
}

type waiting struct {
	ch chan struct{}
	n  int // calls holding ch

	// Set before ch is closed: the order as the run left it in the store, when it settled.
	o       order.Order
	settled bool
}

// result is what the wake of w brought: the settled order, or false (read the store).
func (w *waiting) result() (order.Order, bool) { return w.o, w.settled }

// wait returns the waiting entry of id, whose ch is closed at the next wake, and the function to
// call when done waiting on it.
func (w *waiters) wait(id uuid.UUID) (*waiting, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.m[id]
	if !ok {
		x = &waiting{ch: make(chan struct{})}
		w.m[id] = x
	}
	x.n++
	return x, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if x.n--; x.n == 0 && w.m[id] == x {
			delete(w.m, id)
		}
	}
}

// wake wakes the calls waiting for id, handing them o when settled (the run stored o as it is).
func (w *waiters) wake(id uuid.UUID, o order.Order, settled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x, ok := w.m[id]; ok {
		x.o, x.settled = o, settled
		close(x.ch)
		delete(w.m, id)
	}
}
