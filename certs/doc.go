// Package certs holds the identity configuration of Mercato: the local
// issuer's registration entries (registrations.yaml) and the SPIRE server and
// agent configuration for compose and Kubernetes (spire/). Its tests check
// that both name the same SPIFFE IDs. The issuer itself is package
// mercato.dev/certs/issuer, run by cmd/spiffe-issuer.
package certs
