// Package registry keeps the endpoints services register with the control plane: one entry per
// cluster and address, kept alive by heartbeats and expired by a sweeper when silent for longer
// than the TTL. Every change that alters the set of endpoints is signalled on Changed, so the
// control plane rebuilds its snapshots; heartbeats that change nothing signal nothing.
package registry

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// ErrUnknownInstance is returned for a heartbeat of an instance that is not (or no longer)
// registered: the caller registers again.
var ErrUnknownInstance = errors.New("unknown or expired instance")

// Instance is one registered endpoint.
type Instance struct {
	Cluster  string
	ID       string
	Host     string     // as registered: a DNS name or an IP address
	Address  netip.Addr // the IP the edge connects to
	Port     uint32
	Expires  time.Time
	Since    time.Time
	LastSeen time.Time
}

// Registry is safe for concurrent use.
type Registry struct {
	ttl     time.Duration
	now     func() time.Time
	changed chan struct{}

	mu        sync.Mutex
	instances map[string]map[string]*Instance // cluster → instance ID → instance
}

// Option adjusts a Registry.
type Option func(*Registry)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(r *Registry) { r.now = now } }

// New returns an empty registry whose instances live ttl past their last heartbeat.
func New(ttl time.Duration, opts ...Option) *Registry {
	r := &Registry{ttl: ttl, now: time.Now, changed: make(chan struct{}, 1), instances: map[string]map[string]*Instance{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// TTL is how long an instance lives without a heartbeat.
func (r *Registry) TTL() time.Duration { return r.ttl }

// Changed receives a value after the set of endpoints changed (coalesced: one pending signal
// stands for any number of changes).
func (r *Registry) Changed() <-chan struct{} { return r.changed }

// Register adds an instance of cluster at addr:port (host as the caller named it), or
// refreshes it. An instance registered again at the same address under a new ID (a restarted
// process) replaces the old entry. id may be empty: the registry picks one.
func (r *Registry) Register(cluster, id, host string, addr netip.Addr, port uint32) (Instance, error) {
	if id == "" {
		id = newID()
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	insts := r.instances[cluster]
	if insts == nil {
		insts = map[string]*Instance{}
		r.instances[cluster] = insts
	}
	changed := false
	for otherID, other := range insts {
		if otherID != id && other.Address == addr && other.Port == port {
			delete(insts, otherID)
			changed = true
		}
	}
	inst, ok := insts[id]
	if !ok || inst.Address != addr || inst.Port != port || inst.Host != host {
		inst = &Instance{Cluster: cluster, ID: id, Host: host, Address: addr, Port: port, Since: now}
		insts[id] = inst
		changed = true
	}
	inst.LastSeen, inst.Expires = now, now.Add(r.ttl)
	if changed {
		r.signal()
	}
	return *inst, nil
}

// Heartbeat keeps an instance alive for another TTL.
func (r *Registry) Heartbeat(cluster, id string) (Instance, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	inst, ok := r.instances[cluster][id]
	if !ok || !now.Before(inst.Expires) {
		return Instance{}, fmt.Errorf("%s/%s: %w", cluster, id, ErrUnknownInstance)
	}
	inst.LastSeen, inst.Expires = now, now.Add(r.ttl)
	return *inst, nil
}

// Deregister removes an instance at once; an unknown one is a no-op.
func (r *Registry) Deregister(cluster, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.instances[cluster][id]; ok {
		delete(r.instances[cluster], id)
		r.signal()
	}
}

// Sweep removes the instances whose TTL has passed and returns them.
func (r *Registry) Sweep() []Instance {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var expired []Instance
	for _, insts := range r.instances {
		for id, inst := range insts {
			if !now.Before(inst.Expires) {
				expired = append(expired, *inst)
				delete(insts, id)
			}
		}
	}
	if len(expired) > 0 {
		r.signal()
	}
	return expired
}

// Instances returns the live instances of every cluster, each cluster's sorted by ID.
func (r *Registry) Instances() map[string][]Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]Instance, len(r.instances))
	for cluster, insts := range r.instances {
		for _, id := range slices.Sorted(maps.Keys(insts)) {
			out[cluster] = append(out[cluster], *insts[id])
		}
	}
	return out
}

func (r *Registry) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "i-" + hex.EncodeToString(b)
}
