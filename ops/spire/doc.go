// Package spire runs Mercato on a real SPIRE server and agent (`make test-spire`): SPIRE 1.13.3
// built from source in its own module (tools/spire, outside go.work), started with the shipped
// compose configuration (certs/spire/compose, only paths, ports and lifetimes adapted), the
// workloads registered by certs/spire/compose/entries.sh with SELECTOR=unix, the agent attested
// with the x509pop certificate certs/x509pop makes. Its test, behind the build tag spire, runs
// the services under load through SVID rotations and a CA rotation (zero failed calls), then
// stops the agent for longer than its own SVID and shows that it rejoins.
package spire
