//go:build !faultinject

package main

import "mercato.dev/services/kit/events"

// faultsCompiled says whether NOTIFICATIONS_FAULT works: only in binaries built with -tags
// faultinject (fault_on.go), for tests.
const faultsCompiled = false

func withFault(h events.Handler, _ string) events.Handler { return h }
