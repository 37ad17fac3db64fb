// Package throttle slows down password guessing: it keeps, per key (an account, a client
// address), the failed attempts and the attempts in flight. A key may have a few attempts in
// flight at once; after its free failures, every further failure blocks it for a backoff that
// doubles up to a maximum; failures are forgotten after a quiet period, and a success clears
// the key. The table is bounded, so a spray of keys cannot grow memory without limit.
package throttle

import (
	"sync"
	"time"
)

// Policy is how one kind of key is throttled.
type Policy struct {
	Free     int           // failures allowed before any backoff
	Base     time.Duration // the first backoff
	Max      time.Duration // the longest backoff
	InFlight int           // attempts at once
	Forget   time.Duration // failures older than this (without a new one) are forgotten
}

// Throttle is the table of keys under one policy.
type Throttle struct {
	policy  Policy
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	failures     int
	inflight     int
	blockedUntil time.Time
	lastFailure  time.Time
}

// New returns a throttle keeping at most maxKeys keys.
func New(p Policy, maxKeys int) *Throttle {
	return &Throttle{policy: p, maxKeys: maxKeys, now: time.Now, keys: map[string]*state{}}
}

// Refusal says why an attempt may not run now.
type Refusal struct {
	RetryAfter time.Duration // 0: too many attempts in flight
}

// Outcome is how an admitted attempt ended.
type Outcome int

// The outcomes of an attempt.
const (
	Neutral Outcome = iota // proves nothing (an error of ours, a timeout): only frees the slot
	Success                // clears the key's failures
	Failure                // counts, and may start a backoff
)

// Begin admits an attempt for key, or refuses it. An admitted attempt must be ended with End.
func (t *Throttle) Begin(key string) *Refusal {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.keys[key]
	if s == nil {
		t.makeRoom(now)
		s = &state{}
		t.keys[key] = s
	}
	if s.failures > 0 && now.Sub(s.lastFailure) > t.policy.Forget {
		s.failures = 0
	}
	switch {
	case now.Before(s.blockedUntil):
		return &Refusal{RetryAfter: s.blockedUntil.Sub(now)}
	case s.inflight >= t.policy.InFlight:
		return &Refusal{}
	}
	s.inflight++
	return nil
}

// End records the outcome of an admitted attempt.
func (t *Throttle) End(key string, o Outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil {
		return
	}
	s.inflight = max(0, s.inflight-1)
	switch o {
	case Neutral:
		return
	case Success:
		s.failures, s.blockedUntil = 0, time.Time{}
		return
	}
	now := t.now()
	s.failures++
	s.lastFailure = now
	if over := s.failures - t.policy.Free; over > 0 {
		backoff := t.policy.Base << min(over-1, 30)
		if backoff <= 0 || backoff > t.policy.Max {
			backoff = t.policy.Max
		}
		s.blockedUntil = now.Add(backoff)
	}
}

// Len is the number of keys held.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

// makeRoom keeps the table under maxKeys: it drops keys with nothing to remember, then, if
// still full, any key without an attempt in flight.
func (t *Throttle) makeRoom(now time.Time) {
	if len(t.keys) < t.maxKeys {
		return
	}
	for k, s := range t.keys {
		if s.inflight == 0 && !now.Before(s.blockedUntil) && (s.failures == 0 || now.Sub(s.lastFailure) > t.policy.Forget) {
			delete(t.keys, k)
		}
	}
	for k, s := range t.keys {
		if len(t.keys) < t.maxKeys {
			return
		}
		if s.inflight == 0 {
			delete(t.keys, k)
		}
	}
}
