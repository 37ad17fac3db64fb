// Package upstream is the edge's side of its clusters (CDS + EDS): endpoints chosen round robin
// among those not ejected, mutual TLS with the edge's SVID that accepts only the SPIFFE IDs the
// cluster names, HTTP/2, Envoy's circuit breakers (max_requests, max_pending_requests,
// max_connections, max_retries), consecutive-5xx outlier ejection, and the route's retry policy
// and per-try timeout.
//
// A Cluster is an immutable view built for one configuration version; the state that must
// outlive versions — breaker counters, endpoint ejections, connection pools — lives in the
// Manager, keyed by cluster name, so that an xDS update neither resets a breaker nor drops
// connections.
package upstream

import (
	"slices"
	"sync"

	"mercato.dev/services/kit/identity"
)

// Observer is told about the events worth counting.
type Observer interface {
	Overflow(cluster, breaker string)
	Retry(cluster string)
	Ejected(cluster, addr string)
}

type nopObserver struct{}

func (nopObserver) Overflow(string, string) {}
func (nopObserver) Retry(string)            {}
func (nopObserver) Ejected(string, string)  {}

// Manager owns the state of every cluster across configuration versions.
type Manager struct {
	src identity.Source
	obs Observer

	mu     sync.Mutex
	states map[string]*state
}

// NewManager returns a manager whose clusters present src's SVID; obs may be nil.
func NewManager(src identity.Source, obs Observer) *Manager {
	if obs == nil {
		obs = nopObserver{}
	}
	return &Manager{src: src, obs: obs, states: map[string]*state{}}
}

// Build returns the clusters of a new configuration: settings by name, endpoints by EDS service
// name. Nothing changes until Commit.
func (m *Manager) Build(settings map[string]*Settings, endpoints map[string][]Endpoint) map[string]*Cluster {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*Cluster, len(settings))
	for name, s := range settings {
		st := m.states[name]
		if st == nil {
			st = newState(name)
			st.maxConns.Store(s.Limits.MaxConnections)
		}
		eps := s.Static
		if s.ServiceName != "" {
			eps = endpoints[s.ServiceName]
		}
		tr := st.transport
		if tr == nil || !sameTransport(st.settings, s) {
			tr = newTransport(m.src, s, st)
		}
		c := &Cluster{Settings: s, st: st, transport: tr, obs: m.obs}
		for _, ep := range eps {
			c.hosts = append(c.hosts, &host{addr: ep.Addr, state: st.host(ep.Addr)})
		}
		out[name] = c
	}
	return out
}

// Commit makes the clusters of a configuration that is now serving the current state: the
// connection pools of changed or removed clusters are retired (idle connections closed now,
// busy ones when their requests end).
func (m *Manager) Commit(clusters map[string]*Cluster) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var retired []transport
	for name, st := range m.states {
		c, ok := clusters[name]
		if !ok {
			retired = append(retired, st.transport)
			delete(m.states, name)
			continue
		}
		if st.transport != c.transport {
			retired = append(retired, st.transport)
		}
	}
	for name, c := range clusters {
		c.st.transport, c.st.settings = c.transport, c.Settings
		c.st.maxConns.Store(c.Settings.Limits.MaxConnections)
		c.st.keepHosts(c.hosts)
		m.states[name] = c.st
	}
	for _, tr := range retired {
		if tr != nil {
			tr.CloseIdleConnections()
		}
	}
}

// sameTransport reports whether a and b connect the same way, so one pool serves both.
func sameTransport(a, b *Settings) bool {
	return a != nil && a.ConnectTimeout == b.ConnectTimeout && a.HTTP2 == b.HTTP2 && a.IdleTimeout == b.IdleTimeout &&
		a.TLS.SNI == b.TLS.SNI && slices.Equal(a.TLS.IDs, b.TLS.IDs) && slices.Equal(a.TLS.ALPN, b.TLS.ALPN)
}

// Close closes the idle connections of every cluster; requests still running finish on theirs.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range m.states {
		if st.transport != nil {
			st.transport.CloseIdleConnections()
		}
	}
}
