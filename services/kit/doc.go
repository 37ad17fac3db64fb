// Package kit is the runtime every Mercato service shares and nothing business-specific:
//
//   - [mercato.dev/services/kit/identity]: SPIFFE identities, X.509 sources from the Workload API,
//     and the mTLS configurations built from them;
//   - [mercato.dev/services/kit/authz]: per-method authorization by caller SPIFFE ID, default deny;
//   - [mercato.dev/services/kit/claims]: end-user claims forwarded by the edge;
//   - [mercato.dev/services/kit/server]: the mTLS Connect server with its admin listener;
//   - [mercato.dev/services/kit/client]: Connect clients with deadlines, retries and breakers;
//   - [mercato.dev/services/kit/outbox]: the transactional outbox and its relay to JetStream;
//   - [mercato.dev/services/kit/events]: event subjects, streams, and idempotent consumers;
//   - [mercato.dev/services/kit/service]: a service's whole process life, so main is one line;
//   - [mercato.dev/services/kit/telemetry]: logs, metrics and trace propagation;
//   - [mercato.dev/services/kit/config]: environment parsing with the platform's local defaults;
//   - [mercato.dev/services/kit/kittest]: real SVIDs for tests, from an in-process issuer.
package kit
