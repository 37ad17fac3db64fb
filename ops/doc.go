// Package ops holds the operator's tools: the `mercato` CLI (cmd/mercato), the local platform
// launcher behind `make up` (stack), the trace reader behind `mercato trace` (tracing), the
// alert rules reader (alerts), and the compose support files (compose/: collector, Prometheus
// with its alert rules, Grafana). Its tests check compose.yaml and those files statically,
// since this machine has no Docker engine.
package ops
