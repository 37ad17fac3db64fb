// Package authz decides, per RPC method, which callers may call it, by their SPIFFE ID.
// Rules are declared next to the handler registration; a method without a rule is denied to
// everyone, and so is any path the policy has not heard of.
package authz

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Rules maps a full procedure name ("/mercato.orders.v1.OrderService/CreateOrder") to the
// SPIFFE IDs allowed to call it.
type Rules map[string][]spiffeid.ID

// Allow lists callers; it reads well in a Rules literal.
func Allow(ids ...spiffeid.ID) []spiffeid.ID { return ids }

// Policy is the union of the rules of every handler a server serves. It is safe for concurrent use.
type Policy struct {
	mu    sync.RWMutex
	rules map[string]map[spiffeid.ID]bool
}

// NewPolicy returns an empty policy: everything is denied.
func NewPolicy() *Policy { return &Policy{rules: map[string]map[spiffeid.ID]bool{}} }

// Add registers the rules for the handler mounted at prefix ("/mercato.orders.v1.OrderService/").
// Every procedure must live under prefix, and a procedure may be declared once.
func (p *Policy) Add(prefix string, rules Rules) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for procedure, callers := range rules {
		if !strings.HasPrefix(procedure, prefix) {
			return fmt.Errorf("rule for %q is outside handler prefix %q", procedure, prefix)
		}
		if _, dup := p.rules[procedure]; dup {
			return fmt.Errorf("rule for %q declared twice", procedure)
		}
		set := make(map[spiffeid.ID]bool, len(callers))
		for _, id := range callers {
			set[id] = true
		}
		p.rules[procedure] = set
	}
	return nil
}

// Allowed reports whether caller may call procedure.
func (p *Policy) Allowed(procedure string, caller spiffeid.ID) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.rules[procedure][caller]
}

// Procedures lists every procedure that has a rule, sorted.
func (p *Policy) Procedures() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Sorted(maps.Keys(p.rules))
}

// Callers lists the IDs allowed to call procedure, sorted.
func (p *Policy) Callers(procedure string) []spiffeid.ID {
	p.mu.RLock()
	defer p.mu.RUnlock()
	ids := slices.Collect(maps.Keys(p.rules[procedure]))
	slices.SortFunc(ids, func(a, b spiffeid.ID) int { return strings.Compare(a.String(), b.String()) })
	return ids
}
