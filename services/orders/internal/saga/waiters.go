package saga

import (
	"sync"
	"time"

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

// methods remembers the payment method of the orders this process placed or was asked to
// place again, until their saga settles: the order table has no column for it (see the
// README), so a saga resumed elsewhere after a crash cannot authorize and rejects the order.
type methods struct {
	m sync.Map // uuid.UUID → method
}

type method struct {
	token string
	seen  time.Time
}

func (m *methods) put(id uuid.UUID, token string, now time.Time) {
	if token != "" {
		m.m.Store(id, method{token, now})
	}
}

func (m *methods) get(id uuid.UUID) string {
	v, ok := m.m.Load(id)
	if !ok {
		return ""
	}
	return v.(method).token
}

func (m *methods) forget(id uuid.UUID) { m.m.Delete(id) }

// sweep forgets methods seen before cutoff (orders settled by another process).
func (m *methods) sweep(cutoff time.Time) {
	m.m.Range(func(k, v any) bool {
		if v.(method).seen.Before(cutoff) {
			m.m.Delete(k)
		}
		return true
	})
}
