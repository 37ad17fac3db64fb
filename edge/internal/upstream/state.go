package upstream

import (
	"sync"
	"sync/atomic"
	"time"
)

// state is what a cluster keeps across configuration versions.
type state struct {
	name                            string
	active, pending, retries, conns atomic.Int64
	maxConns                        atomic.Int64
	rr                              atomic.Uint64
	ejectMu                         sync.Mutex // serialises ejection decisions
	mu                              sync.Mutex
	hosts                           map[string]*hostState
	transport                       transport // guarded by Manager.mu
	settings                        *Settings // guarded by Manager.mu
}

func newState(name string) *state {
	return &state{name: name, hosts: map[string]*hostState{}}
}

// host returns the state of the endpoint at addr, creating it.
func (st *state) host(addr string) *hostState {
	st.mu.Lock()
	defer st.mu.Unlock()
	h := st.hosts[addr]
	if h == nil {
		h = &hostState{}
		st.hosts[addr] = h
	}
	return h
}

// keepHosts forgets endpoints that left the cluster.
func (st *state) keepHosts(hosts []*host) {
	keep := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		keep[h.addr] = true
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for addr := range st.hosts {
		if !keep[addr] {
			delete(st.hosts, addr)
		}
	}
}

// tryAcquire takes one unit of a counter limited to max.
func tryAcquire(c *atomic.Int64, max int64) bool {
	if c.Add(1) > max {
		c.Add(-1)
		return false
	}
	return true
}

// hostState is one endpoint's connections and outlier status.
type hostState struct {
	conns        atomic.Int64
	consecutive  atomic.Int64 // consecutive 5xx
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when never ejected
	ejections    atomic.Int64 // times ejected: multiplies the ejection time
}

func (h *hostState) ejected(now time.Time) bool { return now.UnixNano() < h.ejectedUntil.Load() }

// host is an endpoint of one configuration version.
type host struct {
	addr  string
	state *hostState
}
