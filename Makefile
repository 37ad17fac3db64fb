# Mercato — one command runs the platform (make up), one runs the tests (make test).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
MODULES := $(shell $(GO) list -m -f '{{.Dir}}' | sed 's|^$(CURDIR)/||')
# Every command of every module: certs/cmd/spiffe-issuer, services/<name>/cmd/<name>, xds, edge,
# broker, ops.
CMDS := $(wildcard certs/cmd/* services/*/cmd/* xds/cmd/* edge/cmd/* broker/cmd/* ops/cmd/*)

.PHONY: all build up test test-short check fmt vet lint generate bench bench-go bench-smoke bench-baseline clean web

all: check test

## build: compile every binary `make up` runs into bin/
build:
	@mkdir -p bin
	$(GO) build -o bin/ $(addprefix ./,$(CMDS))

## up: run the platform locally (embedded defaults, no Docker); Ctrl-C stops it
up: build web
	./bin/mercato up

## test: everything CI runs — generated code in sync, formatting, vet, then every module's tests
test: check web
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

## web: install the npm workspace (@mercato/api, web/) when its lock file changed, then
## type-check the storefront and build it into web/dist
web: node_modules/.package-lock.json
	npm run -w web check

# (not proto/gen/ts/package.json: generate.sh rewrites it on every run; the lock file records it)
node_modules/.package-lock.json: package-lock.json package.json web/package.json
	npm ci --no-audit --no-fund

## bench-go: the Go benchmarks of every module (go test -bench), each beside its in-process baseline
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 work

## bench-smoke: the current build on free ports under load from bin/loadgen; fails on any platform
## error (a failed call, outbox not drained, notifications != orders); no assertion on time
bench-smoke: build
	./bin/bench smoke

## bench: the benchmark suite: the current build beside a baseline build of $(BENCH_BASELINE)
## (a git worktree under .bench/), every figure of the performance issue, written to BENCHMARKS.md
BENCH_BASELINE ?= 45f491b
bench: build bench-baseline
	./bin/bench suite -baseline .bench/baseline -out BENCHMARKS.md

bench-baseline:
	@if [ ! -e .bench/baseline/.git ]; then git worktree add --detach .bench/baseline $(BENCH_BASELINE); fi
	@test "$$(git -C .bench/baseline rev-parse HEAD)" = "$$(git rev-parse $(BENCH_BASELINE)^{commit})" || \
	  { echo ".bench/baseline is not at $(BENCH_BASELINE): git worktree remove --force .bench/baseline"; exit 1; }
	$(MAKE) -C .bench/baseline build

## compose-bootstrap: once before `docker compose up`: start SPIRE, write the agent's trust bundle
## and join token, and create the registration entries (certs/spire/compose/entries.sh)
compose-bootstrap:
	docker compose up -d --wait spire-server
	S="docker compose exec -T spire-server /opt/spire/bin/spire-server"; \
	$$S bundle show > .spire-bundle.pem; \
	echo "SPIRE_JOIN_TOKEN=$$($$S token generate -spiffeID spiffe://mercato.local/agent/compose -ttl 600 | awk '{print $$2}')" > .env; \
	SPIRE_SERVER="$$S" certs/spire/compose/entries.sh

clean:
	rm -rf bin .tools node_modules web/dist
