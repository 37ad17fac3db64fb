package busauthz_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/busauthz"
	"mercato.dev/services/kit/identity"
)

func TestPlatformTableIsValid(t *testing.T) {
	t.Parallel()
	if err := busauthz.Platform().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestOnlyOwnEventSubjects: no identity may publish another producer's events, and only the
// table's producers publish events at all; no identity subscribes outside its own inbox.
func TestOnlyOwnEventSubjects(t *testing.T) {
	t.Parallel()
	table := busauthz.Platform()
	owners := map[string]string{"orders": "mercato.orders.v1.rejected", "payments": "mercato.payments.v1.authorized", "customers": "mercato.customers.v1.deactivated"}
	for _, id := range table.IDs() {
		p, ok := table.Permissions(id)
		if !ok {
			t.Fatalf("%s: no permissions", id)
		}
		for owner, subject := range owners {
			allowed := matchesAny(p.Publish, subject)
			if own := id == identity.Service(owner); allowed != own {
				t.Errorf("%s may publish %s: %v, want %v", id, subject, allowed, own)
			}
		}
		if want := []string{busauthz.InboxPrefix(id) + ".>"}; !slices.Equal(p.Subscribe, want) {
			t.Errorf("%s subscribes %v, want %v", id, p.Subscribe, want)
		}
		for _, s := range p.Publish {
			if strings.HasPrefix(s, "$JS.API.STREAM.DELETE") || strings.HasPrefix(s, "$JS.API.STREAM.PURGE") || s == ">" || s == "$JS.API.>" {
				t.Errorf("%s may publish %s", id, s)
			}
		}
	}
	for _, id := range []string{"/edge", "/xds", "/ops/cli"} {
		if _, ok := table.Permissions(spiffeid.RequireFromPath(identity.TrustDomain, id)); ok {
			t.Errorf("%s has bus permissions", id)
		}
	}
}

// TestNotificationsPermissions spells out one identity's derived permissions.
func TestNotificationsPermissions(t *testing.T) {
	t.Parallel()
	p, _ := busauthz.Platform().Permissions(identity.Service("notifications"))
	for _, want := range []string{
		"$JS.API.STREAM.CREATE.DLQ", "$JS.API.CONSUMER.CREATE.ORDERS.notifications.mercato.orders.>",
		"$JS.API.CONSUMER.MSG.NEXT.ORDERS.notifications", "$JS.ACK.ORDERS.notifications.1.2.3.4.5.6.7",
		"mercato.dlq.mercato.orders.v1.confirmed", "$JS.API.CONSUMER.CREATE.CUSTOMERS.follow_1.mercato.customers.v1.deactivated",
		"$JS.API.CONSUMER.MSG.NEXT.CUSTOMERS.follow_1",
	} {
		if !matchesAny(p.Publish, want) {
			t.Errorf("notifications may not publish %s", want)
		}
	}
	for _, deny := range []string{
		"mercato.orders.v1.confirmed", "$JS.API.STREAM.CREATE.ORDERS", "$JS.API.CONSUMER.MSG.NEXT.ORDERS.other",
		"$JS.API.CONSUMER.CREATE.PAYMENTS.notifications", "mercato.dlq.mercato.payments.v1.authorized", "$JS.ACK.ORDERS.other.1",
		"$JS.API.CONSUMER.CREATE.CUSTOMERS.follow_1", "$JS.API.CONSUMER.CREATE.CUSTOMERS.follow_1.mercato.customers.>",
	} {
		if matchesAny(p.Publish, deny) {
			t.Errorf("notifications may publish %s", deny)
		}
	}
	if got := busauthz.InboxPrefix(identity.Service("notifications")); got != "_INBOX_svc_notifications" {
		t.Errorf("inbox prefix %s", got)
	}
}

func TestValidateRefusesASharedDurable(t *testing.T) {
	t.Parallel()
	table := busauthz.Platform().With(busauthz.Table{
		identity.Service("payments"): {Consumers: []busauthz.Consumer{{Stream: "ORDERS", Durable: "notifications"}}},
	})
	if err := table.Validate(); err == nil {
		t.Fatal("two identities share the durable notifications on ORDERS")
	}
	bad := busauthz.Table{identity.Service("x"): {Streams: []string{"NOPE"}}}
	if err := bad.Validate(); err == nil {
		t.Fatal("an unknown stream passed")
	}
}

// matchesAny reports whether subject (its tokens taken literally) falls under a pattern.
func matchesAny(patterns []string, subject string) bool {
	for _, p := range patterns {
		if subjectMatches(p, subject) {
			return true
		}
	}
	return false
}

// subjectMatches reports whether literal subject falls under pattern (tokens, * and >).
func subjectMatches(pattern, subject string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range pt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || (tok != "*" && tok != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}
