// Package outbox is the transactional outbox every event-producing service shares.
//
// A service records a state change and the event announcing it in one database transaction:
// it builds the row with [New] (the protobuf payload, a UUIDv7 event ID, the W3C trace context
// of the request) and inserts it into its own outbox table with its ent client. A [Relay] then
// claims pending rows by status through a [Store] (one [SQLStore] serves every service, since
// the outbox tables share one shape), publishes them to JetStream with the event ID as
// Nats-Msg-Id, and marks them sent. An event is therefore published at least once, and
// JetStream's duplicate window together with the consumers' deduplication by event ID makes
// its effect happen once.
//
// The relay never pages by "id > last seen" (rows commit out of order on PostgreSQL): it claims
// rows whose status is pending, or claimed under a lease that has expired, so a crashed relay's
// rows are taken over, and several relays share one table without stepping on each other.
// While the broker is unreachable rows stay in the table and the relay retries with jittered
// exponential backoff; nothing is dropped or skipped. Publication order follows creation order
// as far as one relay goes, but is not guaranteed across retries or relays.
package outbox
