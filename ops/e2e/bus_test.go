package e2e

import (
	"testing"

	"mercato.dev/services/kit/events/eventstest"
)

// TestBusAuthz attacks the platform's broker, bin/broker run as `mercato up` runs it, with every
// service of the platform connected to it: no TLS, no certificate, a foreign trust domain,
// identities outside the table, forged order events from payments and notifications, payments
// reading the ORDERS stream (eventstest.CheckBusAuthz).
func TestBusAuthz(t *testing.T) {
	p := the(t)
	eventstest.CheckBusAuthz(t, p.env, p.nats)
}
