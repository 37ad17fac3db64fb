//go:build faultinject

package main

import (
	"context"
	"time"

	"mercato.dev/services/kit/events"
)

// faultsCompiled says whether NOTIFICATIONS_FAULT works: only in binaries built with -tags
// faultinject, for tests.
const faultsCompiled = true

// withFault applies the fault named by NOTIFICATIONS_FAULT to the event handler. "slow-ack"
// holds every event 25 ms after its notification is recorded and before the handler returns
// (and the consumer acknowledges it): the consumer crawls, and a crash most likely lands
// between recording an event and acknowledging it.
func withFault(h events.Handler, fault string) events.Handler {
	if fault != "slow-ack" {
		return h
	}
	return func(ctx context.Context, m events.Message) error {
		err := h(ctx, m)
		time.Sleep(25 * time.Millisecond)
		return err
	}
}
