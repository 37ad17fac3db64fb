package registry_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"mercato.dev/xds/internal/registry"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var ip = netip.MustParseAddr

func newRegistry(t *testing.T) (*registry.Registry, *clock) {
	t.Helper()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	return registry.New(10*time.Second, registry.WithClock(c.Now)), c
}

func changed(r *registry.Registry) bool {
	select {
	case <-r.Changed():
		return true
	default:
		return false
	}
}

func TestHeartbeatsKeepInstancesAndSilenceExpiresThem(t *testing.T) {
	t.Parallel()
	r, c := newRegistry(t)
	a, _ := r.Register("orders", "", "10.0.0.1", ip("10.0.0.1"), 8103)
	b, _ := r.Register("orders", "b", "10.0.0.2", ip("10.0.0.2"), 8103)
	if a.ID == "" || b.ID != "b" || !changed(r) || changed(r) {
		t.Fatalf("ids %q %q; want a generated one and b, one coalesced change signal", a.ID, b.ID)
	}
	for range 3 {
		c.Advance(6 * time.Second)
		if _, err := r.Heartbeat("orders", a.ID); err != nil {
			t.Fatal(err)
		}
		if expired := r.Sweep(); len(expired) > 0 && expired[0].ID != "b" {
			t.Fatalf("expired %v", expired)
		}
	}
	if got := r.Instances()["orders"]; len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("instances %v, want only the heartbeating one", got)
	}
	if !changed(r) {
		t.Error("expiry did not signal a change")
	}
	if _, err := r.Heartbeat("orders", "b"); !errors.Is(err, registry.ErrUnknownInstance) {
		t.Errorf("heartbeat of an expired instance: %v", err)
	}
	if _, err := r.Heartbeat("orders", a.ID); err != nil || changed(r) {
		t.Errorf("a heartbeat signalled a change (err %v)", err)
	}
}

func TestHeartbeatAfterTTLIsUnknownEvenBeforeTheSweep(t *testing.T) {
	t.Parallel()
	r, c := newRegistry(t)
	a, _ := r.Register("inventory", "", "h", ip("10.0.0.1"), 1)
	c.Advance(10 * time.Second)
	if _, err := r.Heartbeat("inventory", a.ID); !errors.Is(err, registry.ErrUnknownInstance) {
		t.Errorf("heartbeat at the TTL: %v", err)
	}
}

func TestReRegistrationReplacesTheSameAddress(t *testing.T) {
	t.Parallel()
	r, _ := newRegistry(t)
	r.Register("orders", "old", "10.0.0.1", ip("10.0.0.1"), 8103)
	r.Register("orders", "new", "10.0.0.1", ip("10.0.0.1"), 8103)
	r.Register("inventory", "x", "10.0.0.1", ip("10.0.0.1"), 8103)
	got := r.Instances()
	if len(got["orders"]) != 1 || got["orders"][0].ID != "new" || len(got["inventory"]) != 1 {
		t.Errorf("instances %v, want the restarted process only, other clusters untouched", got)
	}
	<-r.Changed()
	r.Register("orders", "new", "10.0.0.1", ip("10.0.0.1"), 8103)
	if changed(r) {
		t.Error("refreshing a registration signalled a change")
	}
	r.Deregister("orders", "new")
	r.Deregister("orders", "unknown")
	if len(r.Instances()["orders"]) != 0 || !changed(r) {
		t.Error("deregistration did not remove the instance or signal")
	}
}
