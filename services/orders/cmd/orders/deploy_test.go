package main_test

import (
	"testing"

	"mercato.dev/services/kit/kittest"
)

// TestDeployment: the Dockerfile builds this module alone without build tags, and the k8s
// manifest carries the service's settings, SPIFFE socket and probes.
func TestDeployment(t *testing.T) {
	t.Parallel()
	kittest.CheckDeployment(t, "orders", "NATS_URL")
}
