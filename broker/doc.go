// Package broker is the home of Mercato's event broker binary (cmd/broker): NATS JetStream
// inside the trust model. The server code lives in mercato.dev/services/kit/events/embedded
// (so tests run the same code in-process) and its permissions in
// mercato.dev/services/kit/busauthz; this module is the process around them — configuration,
// the Workload API source of spiffe://mercato.local/broker, and the admin listener.
package broker
