package issuer

import (
	"fmt"
	"sync"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// registration is an Entry with its selectors in canonical form.
type registration struct {
	id        spiffeid.ID
	selectors []string
}

// matches reports whether every selector of the registration is one of the
// caller's.
func (r registration) matches(c caller) bool {
	for _, s := range r.selectors {
		if !c.selectors[s] {
			return false
		}
	}
	return true
}

// registry is the live, replaceable list of registrations.
type registry struct {
	td   spiffeid.TrustDomain
	root string

	mu   sync.RWMutex
	regs []registration
}

func newRegistry(td spiffeid.TrustDomain, root string) *registry {
	return &registry{td: td, root: root}
}

// set replaces the registrations. Invalid entries are left out and reported.
func (r *registry) set(entries []Entry) []error {
	regs := make([]registration, 0, len(entries))
	var errs []error
	for _, e := range entries {
		reg, err := r.registration(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		regs = append(regs, reg)
	}
	r.mu.Lock()
	r.regs = regs
	r.mu.Unlock()
	return errs
}

func (r *registry) registration(e Entry) (registration, error) {
	if err := e.Validate(); err != nil {
		return registration{}, fmt.Errorf("entry left out: %w", err)
	}
	if !e.ID.MemberOf(r.td) {
		return registration{}, fmt.Errorf("entry %s left out: not in trust domain %s", e.ID, r.td)
	}
	reg := registration{id: e.ID, selectors: make([]string, 0, len(e.Selectors))}
	for _, raw := range e.Selectors {
		s, err := parseSelector(raw)
		if err != nil {
			return registration{}, fmt.Errorf("entry %s left out: %w", e.ID, err)
		}
		reg.selectors = append(reg.selectors, s.canonical(r.root).String())
	}
	return reg, nil
}

// match returns the IDs of the registrations matching the caller, in
// registration order, each once.
func (r *registry) match(c caller) []spiffeid.ID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ids []spiffeid.ID
	seen := make(map[spiffeid.ID]bool)
	for _, reg := range r.regs {
		if !seen[reg.id] && reg.matches(c) {
			seen[reg.id] = true
			ids = append(ids, reg.id)
		}
	}
	return ids
}

// ids returns every registered ID.
func (r *registry) ids() map[spiffeid.ID]bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make(map[spiffeid.ID]bool, len(r.regs))
	for _, reg := range r.regs {
		ids[reg.id] = true
	}
	return ids
}
