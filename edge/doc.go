// Package edge holds Mercato's edge: Envoy's bootstrap (envoy.yaml, embedded here as
// [Bootstrap]) and, under cmd/edge, the dev edge — a small Go proxy that is an ADS client of the
// control plane like Envoy and honours the subset of Envoy's behaviour the platform configures,
// for machines without an Envoy binary. routes.yaml, the declarative edge policy, belongs to the
// control plane (xds/), which turns it into xDS resources; nothing here reads it.
package edge

import _ "embed"

// Bootstrap is envoy.yaml: Envoy's bootstrap for compose, Kubernetes and a locally installed
// envoy. Node "edge", every listener, route, cluster and endpoint from the control plane over ADS
// (mTLS with the edge's SVID through SDS), admin on loopback only.
//
//go:embed envoy.yaml
var Bootstrap []byte
