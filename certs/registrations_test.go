package certs_test

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"mercato.dev/certs/issuer"
)

// binaries maps every binary `make up` builds into bin/ to its identity.
var binaries = map[string]string{
	"bin/customers":     "spiffe://mercato.local/svc/customers",
	"bin/inventory":     "spiffe://mercato.local/svc/inventory",
	"bin/orders":        "spiffe://mercato.local/svc/orders",
	"bin/payments":      "spiffe://mercato.local/svc/payments",
	"bin/notifications": "spiffe://mercato.local/svc/notifications",
	"bin/xds":           "spiffe://mercato.local/xds",
	"bin/broker":        "spiffe://mercato.local/broker",
	"bin/edge":          "spiffe://mercato.local/edge",
	"bin/mercato":       "spiffe://mercato.local/ops/cli",
}

func loadRegistrations(t *testing.T) []issuer.Entry {
	t.Helper()
	entries, err := issuer.LoadEntries("registrations.yaml")
	if err != nil {
		t.Fatalf("registrations.yaml: %v", err)
	}
	return entries
}

func TestRegistrationsCoverEveryBinary(t *testing.T) {
	t.Parallel()
	entries := loadRegistrations(t)
	for bin, want := range binaries {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, e := range entries {
				if len(e.Selectors) == 1 && e.Selectors[0] == "unix:path:"+bin {
					got = append(got, e.ID.String())
				}
			}
			if len(got) != 1 || got[0] != want {
				t.Errorf("entries selecting only unix:path:%s give %q, want exactly [%s]", bin, got, want)
			}
		})
	}
}

func TestRegistrationsAreInTrustDomainAndNarrow(t *testing.T) {
	t.Parallel()
	td := spiffeid.RequireTrustDomainFromString("mercato.local")
	for _, e := range loadRegistrations(t) {
		if !e.ID.MemberOf(td) {
			t.Errorf("%s is outside trust domain %s", e.ID, td)
		}
		if !hasPathSelector(e) {
			t.Errorf("%s has no unix:path selector: it would be granted to every program of a user", e.ID)
		}
	}
}

func hasPathSelector(e issuer.Entry) bool {
	for _, s := range e.Selectors {
		if len(s) > len("unix:path:") && s[:len("unix:path:")] == "unix:path:" {
			return true
		}
	}
	return false
}
