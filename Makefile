# Mercato — one command runs the platform (make up), one runs the tests (make test).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
MODULES := $(shell $(GO) list -m -f '{{.Dir}}' | sed 's|^$(CURDIR)/||')
# Every command of every module: certs/cmd/spiffe-issuer, services/<name>/cmd/<name>, xds, edge, ops.
CMDS := $(wildcard certs/cmd/* services/*/cmd/* xds/cmd/* edge/cmd/* ops/cmd/*)

.PHONY: all build up jaeger test test-short check fmt vet lint generate bench clean

all: check test

# The build version every binary reports (trace resource service.version, mercato_build_info):
# VCS stamping is off on these machines, so it is set at link time.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X mercato.dev/services/kit/telemetry.Version=$(VERSION)

## build: compile every binary `make up` runs into bin/
build:
	@mkdir -p bin
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ $(addprefix ./,$(CMDS))

## up: run the platform locally (embedded defaults, no Docker); Ctrl-C stops it.
## `make up TRACING=jaeger` also builds and runs Jaeger, and every process exports its spans to it.
up: build $(if $(filter jaeger,$(TRACING)),jaeger)
	TRACING=$(TRACING) ./bin/mercato up

## jaeger: build Jaeger v2 (v1.75.0) into bin/jaeger from its own module outside go.work (~5 min)
jaeger: bin/jaeger
bin/jaeger: tools/jaeger/go.mod tools/jaeger/go.sum
	@mkdir -p bin
	cd tools/jaeger && GOWORK=off $(GO) build -o ../../bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

## test: everything CI runs — generated code in sync, formatting, vet, then every module's tests
test: check
	$(GO) test -count=1 -timeout 20m work

## test-short: the quick loop (skips the soak-style tests)
test-short:
	$(GO) test -short work

## check: generated code in sync with its sources, gofmt, go vet, buf lint
check: fmt vet
	proto/check.sh

fmt:
	@out=$$(gofmt -l $(MODULES) | grep -v '/gen/' || true); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet work

## generate: regenerate protobuf and ent code (offline, pinned tools)
generate:
	proto/generate.sh
	ent/generate.sh

## bench: benchmarks, run side by side with their baselines
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 work

## compose-bootstrap: once before `docker compose up`: start SPIRE, write the agent's trust bundle
## and join token, and create the registration entries (certs/spire/compose/entries.sh)
compose-bootstrap:
	docker compose up -d --wait spire-server
	S="docker compose exec -T spire-server /opt/spire/bin/spire-server"; \
	$$S bundle show > .spire-bundle.pem; \
	echo "SPIRE_JOIN_TOKEN=$$($$S token generate -spiffeID spiffe://mercato.local/agent/compose -ttl 600 | awk '{print $$2}')" > .env; \
	SPIRE_SERVER="$$S" certs/spire/compose/entries.sh

clean:
	rm -rf bin .tools
