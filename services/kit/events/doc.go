// Package events is how Mercato services exchange domain events over NATS JetStream: the
// subjects and streams of the platform ([EnsureStream]), and durable pull consumers
// ([Consume]) that acknowledge a message only once its handler succeeded, retry with a delay,
// and move a message that keeps failing (or is unreadable, see [Permanent]) to the dead-letter
// stream so that it never blocks the ones behind it.
//
// Every connection to the broker is mutual TLS with the process's SVID ([Connect]); the broker
// (package embedded, binary broker) admits only the identities of the bus authorization table
// (package mercato.dev/services/kit/busauthz) with exactly the subjects it grants, so a producer
// creates only its own streams ([StreamsOf]) and publishes only its own subjects.
//
// Events are protobuf messages defined in proto/ and published by each producer's
// transactional outbox (package mercato.dev/services/kit/outbox) with the event ID as the
// Nats-Msg-Id header. Delivery is at least once: a handler records its effect and the event ID
// in one transaction and does nothing for an ID it has seen.
//
// # Subjects
//
// An event's subject is mercato.<producer>.v<major>.<event>: the first three tokens are the
// protobuf package of the event message (mercato.orders.v1), the last is what happened, a
// lowercase past participle (confirmed, rejected, canceled). Tokens are lowercase ASCII letters
// and digits; subjects contain no wildcards. Each producer owns one stream capturing
// mercato.<producer>.>, and a message that could not be handled is republished to
// mercato.dlq.<original subject> (stream DLQ).
package events
