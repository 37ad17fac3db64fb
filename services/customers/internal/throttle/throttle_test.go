package throttle

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTest(p Policy, maxKeys int) (*Throttle, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	th := New(p, maxKeys)
	th.now = c.now
	return th, c
}

var policy = Policy{Free: 3, Base: time.Second, Max: 8 * time.Second, InFlight: 2, Forget: time.Minute}

func TestBackoffDoublesAfterFreeFailures(t *testing.T) {
	th, c := newTest(policy, 10)
	var waits []time.Duration
	for range 7 {
		for {
			r := th.Begin("a")
			if r == nil {
				break
			}
			waits = append(waits, r.RetryAfter)
			c.advance(r.RetryAfter)
		}
		th.End("a", Failure)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v (3 free failures, then doubling)", waits, want)
	}
	if r := th.Begin("a"); r == nil || r.RetryAfter != 8*time.Second {
		t.Errorf("after 7 failures: %+v, want a wait of the 8s maximum", r)
	}
	c.advance(8 * time.Second)
	if r := th.Begin("a"); r != nil {
		t.Fatalf("after the wait: %+v", r)
	}
	th.End("a", Success)
	if r := th.Begin("a"); r != nil {
		t.Errorf("a success did not clear the key: %+v", r)
	}
}

func TestInFlightBound(t *testing.T) {
	th, _ := newTest(policy, 10)
	if th.Begin("a") != nil || th.Begin("a") != nil {
		t.Fatal("the first two attempts were refused")
	}
	if r := th.Begin("a"); r == nil || r.RetryAfter != 0 {
		t.Fatalf("a third concurrent attempt: %+v, want refused", r)
	}
	th.End("a", Neutral)
	if th.Begin("a") != nil {
		t.Error("an attempt after one ended was refused")
	}
}

func TestFailuresAreForgotten(t *testing.T) {
	th, c := newTest(policy, 10)
	for range 3 {
		th.Begin("a")
		th.End("a", Failure)
	}
	c.advance(2 * time.Minute)
	th.Begin("a")
	th.End("a", Failure)
	if r := th.Begin("a"); r != nil {
		t.Errorf("old failures still counted: %+v", r)
	}
}

func TestTableIsBounded(t *testing.T) {
	th, _ := newTest(policy, 100)
	for i := range 1000 {
		key := fmt.Sprint("k", i)
		if th.Begin(key) == nil {
			th.End(key, Failure)
		}
	}
	if n := th.Len(); n > 100 {
		t.Errorf("%d keys held, bound 100", n)
	}
}
