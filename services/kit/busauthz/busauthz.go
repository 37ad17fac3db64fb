// Package busauthz declares who may do what on the event bus: one table, next to the RPC
// authorization rules (package authz), mapping each SPIFFE ID that may connect to the NATS
// JetStream broker to the event subjects it publishes, the streams it creates and updates, and
// the durable consumers it reads with. The broker (package events/embedded, binary broker)
// turns the table into NATS users matched by the URI SAN of the client's SVID
// (verify_and_map); an identity not in the table cannot connect at all.
//
// From the table follow the NATS permissions of each identity, nothing more:
//   - publish: its own event subjects; for each stream it creates, $JS.API.STREAM.CREATE,
//     UPDATE and INFO of that stream; for each consumer, $JS.API.CONSUMER.CREATE (and the
//     legacy DURABLE.CREATE), INFO and MSG.NEXT of that durable on that stream, $JS.ACK of its
//     deliveries, the dead-letter subjects of the stream's events (DeadLetterPrefix + the
//     stream's subjects) and $JS.API.STREAM.NAMES (to find the dead-letter stream); for each
//     followed subject, creating, pulling, reading and deleting ordered consumers on its
//     stream filtered on exactly that subject;
//   - subscribe: its own inbox prefix only (_INBOX_<name>.>), where JetStream answers its API
//     calls, publish acknowledgements and pulled messages arrive.
//
// A producer publishes only its own mercato.<service>.v1.> subjects, so an event's subject
// proves who published it: a forged order event from any identity other than orders never
// reaches the ORDERS stream.
package busauthz

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"mercato.dev/services/kit/identity"
)

// DeadLetterPrefix is prepended to a message's subject when a consumer dead-letters it (it
// equals events.DeadLetterPrefix, which is declared from this one).
const DeadLetterPrefix = "mercato.dlq."

// Stream names of the platform (events.OrdersStream and the others use these).
const (
	OrdersStream    = "ORDERS"
	PaymentsStream  = "PAYMENTS"
	CustomersStream = "CUSTOMERS"
	DLQStream       = "DLQ"
)

// CustomerDeactivated is the subject of a customer's deactivation (events.CustomerDeactivated).
const CustomerDeactivated = "mercato.customers.v1.deactivated"

// StreamSubjects are the subjects each stream of the platform captures.
var StreamSubjects = map[string][]string{
	OrdersStream:    {"mercato.orders.>"},
	PaymentsStream:  {"mercato.payments.>"},
	CustomersStream: {"mercato.customers.>"},
	DLQStream:       {DeadLetterPrefix + ">"},
}

// Consumer is a durable consumer an identity reads a stream with.
type Consumer struct {
	Stream  string
	Durable string
}

// Follow is an ordered (ephemeral, unacknowledged) consumer an identity reads part of a stream
// with: each replica keeps its own, so every replica sees every event (package deactivation).
type Follow struct {
	Stream string
	Filter string // the one subject it reads
}

// Grant is what one identity may do on the bus.
type Grant struct {
	// Publishes lists the event subjects it publishes (wildcards allowed).
	Publishes []string
	// Streams lists the streams it creates or updates at start-up (events.EnsureStreams).
	Streams []string
	// Consumers lists its durable consumers.
	Consumers []Consumer
	// Follows lists the subjects it reads with ordered consumers.
	Follows []Follow
}

// Table maps SPIFFE IDs to their grants. An ID without an entry may not connect.
type Table map[spiffeid.ID]Grant

// Platform is Mercato's table:
//   - orders publishes mercato.orders.v1.> into ORDERS, payments mercato.payments.v1.> into
//     PAYMENTS, customers mercato.customers.v1.> into CUSTOMERS (customer lifecycle events
//     such as a deactivation);
//   - notifications consumes ORDERS as "notifications"; every service follows
//     mercato.customers.v1.deactivated on CUSTOMERS with ordered consumers of its own (each
//     replica keeps the deactivated customers in memory, so each needs every event);
//   - every consumer may create the DLQ stream its dead letters go to, and publish only
//     dead letters of what it consumes.
//
// edge, xds and ops/cli have no entry: they never touch the bus, so the broker refuses them.
func Platform() Table {
	svc := identity.Service
	deactivations := []Follow{{Stream: CustomersStream, Filter: CustomerDeactivated}}
	return Table{
		svc("orders"): {
			Publishes: []string{"mercato.orders.v1.>"},
			Streams:   []string{OrdersStream, DLQStream},
			Follows:   deactivations,
		},
		svc("payments"): {
			Publishes: []string{"mercato.payments.v1.>"},
			Streams:   []string{PaymentsStream, DLQStream},
			Follows:   deactivations,
		},
		svc("customers"): {
			Publishes: []string{"mercato.customers.v1.>"},
			Streams:   []string{CustomersStream},
			Follows:   deactivations,
		},
		svc("notifications"): {
			Streams:   []string{DLQStream},
			Consumers: []Consumer{{Stream: OrdersStream, Durable: "notifications"}},
			Follows:   deactivations,
		},
		svc("inventory"): {
			Follows: deactivations,
		},
	}
}

// Permissions are the NATS subjects an identity may publish and subscribe to.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// InboxPrefix is the identity's own inbox prefix, such as "_INBOX_orders": clients set it
// (nats.CustomInboxPrefix) and may subscribe under it only, so no identity reads another's
// replies. It is made of the ID's path with every character outside [A-Za-z0-9] turned into
// "_" ("/svc/orders" → "_INBOX_svc_orders").
func InboxPrefix(id spiffeid.ID) string {
	return "_INBOX" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, id.Path())
}

// Permissions derives the NATS permissions of id (see the package documentation); ok is false
// when id has no entry.
func (t Table) Permissions(id spiffeid.ID) (p Permissions, ok bool) {
	g, ok := t[id]
	if !ok {
		return Permissions{}, false
	}
	pub := slices.Clone(g.Publishes)
	for _, s := range g.Streams {
		pub = append(pub, "$JS.API.STREAM.CREATE."+s, "$JS.API.STREAM.UPDATE."+s, "$JS.API.STREAM.INFO."+s)
	}
	if len(g.Consumers) > 0 {
		pub = append(pub, "$JS.API.STREAM.NAMES")
	}
	for _, c := range g.Consumers {
		sd := c.Stream + "." + c.Durable
		pub = append(pub,
			"$JS.API.CONSUMER.CREATE."+sd, "$JS.API.CONSUMER.CREATE."+sd+".>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+sd,
			"$JS.API.CONSUMER.INFO."+sd, "$JS.API.CONSUMER.MSG.NEXT."+sd,
			"$JS.ACK."+sd+".>")
		for _, subj := range StreamSubjects[c.Stream] {
			pub = append(pub, DeadLetterPrefix+subj)
		}
	}
	for _, f := range g.Follows {
		// An ordered consumer is named by the client (any name: "*"), created with its one
		// filter subject in the API subject, pulled, and deleted and made again when it resets.
		pub = append(pub,
			"$JS.API.STREAM.INFO."+f.Stream,
			"$JS.API.CONSUMER.CREATE."+f.Stream+".*."+f.Filter,
			"$JS.API.CONSUMER.MSG.NEXT."+f.Stream+".*",
			"$JS.API.CONSUMER.INFO."+f.Stream+".*",
			"$JS.API.CONSUMER.DELETE."+f.Stream+".*")
	}
	slices.Sort(pub)
	return Permissions{Publish: slices.Compact(pub), Subscribe: []string{InboxPrefix(id) + ".>"}}, true
}

// IDs lists the table's identities, sorted.
func (t Table) IDs() []spiffeid.ID {
	ids := slices.Collect(maps.Keys(t))
	slices.SortFunc(ids, func(a, b spiffeid.ID) int { return strings.Compare(a.String(), b.String()) })
	return ids
}

// Validate checks that every stream and consumer names a stream of StreamSubjects, and that
// no durable is granted to two identities (they would share, and so read, each other's work).
func (t Table) Validate() error {
	durables := map[Consumer]spiffeid.ID{}
	for _, id := range t.IDs() {
		g := t[id]
		for _, s := range g.Streams {
			if _, ok := StreamSubjects[s]; !ok {
				return fmt.Errorf("busauthz: %s creates unknown stream %q", id, s)
			}
		}
		for _, c := range g.Consumers {
			if _, ok := StreamSubjects[c.Stream]; !ok {
				return fmt.Errorf("busauthz: %s consumes unknown stream %q", id, c.Stream)
			}
			if c.Durable == "" || strings.ContainsAny(c.Durable, ".*> ") {
				return fmt.Errorf("busauthz: %s has an invalid durable name %q", id, c.Durable)
			}
			if other, dup := durables[c]; dup {
				return fmt.Errorf("busauthz: durable %s on %s granted to %s and %s", c.Durable, c.Stream, other, id)
			}
			durables[c] = id
		}
		for _, f := range g.Follows {
			if _, ok := StreamSubjects[f.Stream]; !ok || f.Filter == "" || strings.ContainsAny(f.Filter, "*> ") {
				return fmt.Errorf("busauthz: %s follows %q on %q: want a known stream and one literal subject", id, f.Filter, f.Stream)
			}
		}
	}
	return nil
}

// With returns a copy of t with more grants (a test's own identity, for instance); an ID
// already in t is replaced.
func (t Table) With(more Table) Table {
	out := maps.Clone(t)
	maps.Copy(out, more)
	return out
}
