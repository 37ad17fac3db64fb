package authz_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	orders, edge := identity.Service("orders"), identity.Edge
	p := authz.NewPolicy()
	if err := p.Add("/pkg.S/", authz.Rules{"/pkg.S/A": authz.Allow(orders, edge), "/pkg.S/B": authz.Allow(), "/pkg.S/C": nil}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		procedure string
		caller    spiffeid.ID
		want      bool
	}{
		{"listed caller", "/pkg.S/A", orders, true},
		{"second listed caller", "/pkg.S/A", edge, true},
		{"unlisted caller", "/pkg.S/A", identity.OpsCLI, false},
		{"rule with nobody", "/pkg.S/B", edge, false},
		{"nil rule", "/pkg.S/C", edge, false},
		{"no rule at all", "/pkg.S/D", edge, false},
		{"other service", "/pkg.T/A", edge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.Allowed(tt.procedure, tt.caller); got != tt.want {
				t.Errorf("Allowed(%s, %s) = %v, want %v", tt.procedure, tt.caller, got, tt.want)
			}
		})
	}
	if got := p.Procedures(); !slices.Equal(got, []string{"/pkg.S/A", "/pkg.S/B", "/pkg.S/C"}) {
		t.Errorf("Procedures() = %v", got)
	}
	if got := p.Callers("/pkg.S/A"); len(got) != 2 || got[0] != edge {
		t.Errorf("Callers() = %v, want edge then orders (sorted)", got)
	}
}

func TestPolicyAddRejectsMistakes(t *testing.T) {
	t.Parallel()
	p := authz.NewPolicy()
	if err := p.Add("/pkg.S/", authz.Rules{"/pkg.S/A": nil}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		prefix string
		rules  authz.Rules
		want   string
	}{
		"outside the handler's prefix": {"/pkg.T/", authz.Rules{"/pkg.S/X": nil}, "outside handler prefix"},
		"declared twice":               {"/pkg.S/", authz.Rules{"/pkg.S/A": nil}, "declared twice"},
	} {
		if err := p.Add(tc.prefix, tc.rules); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}
