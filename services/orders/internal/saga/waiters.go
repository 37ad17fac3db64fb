package saga

import (
	"sync"

	"github.com/google/uuid"
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
}

// wait returns a channel closed at the next wake of id, and the function to call when done
// waiting on it.
func (w *waiters) wait(id uuid.UUID) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.m[id]
	if !ok {
		x = &waiting{ch: make(chan struct{})}
		w.m[id] = x
	}
	x.n++
	return x.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if x.n--; x.n == 0 && w.m[id] == x {
			delete(w.m, id)
		}
	}
}

func (w *waiters) wake(id uuid.UUID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x, ok := w.m[id]; ok {
		close(x.ch)
		delete(w.m, id)
	}
}
