// Package ops holds the operator's tools: the `mercato` CLI (cmd/mercato), the local platform
// launcher behind `make up` (stack), and the compose support files (compose/). Its tests check
// compose.yaml statically, since this machine has no Docker engine.
package ops
