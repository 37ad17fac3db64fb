# Mercato — one command runs the platform (make up), one runs the tests (make test).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
MODULES := $(shell $(GO) list -m -f '{{.Dir}}' | sed 's|^$(CURDIR)/||')
# Every command of every module: certs/cmd/spiffe-issuer, services/<name>/cmd/<name>, xds, edge,
# broker, ops.
CMDS := $(wildcard certs/cmd/* services/*/cmd/* xds/cmd/* edge/cmd/* broker/cmd/* ops/cmd/*)

.PHONY: all build up test test-short test-spire spire k8s-register check fmt vet lint generate bench bench-go bench-smoke bench-baseline clean fuzz web jaeger

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
up: build web $(if $(filter jaeger,$(TRACING)),jaeger)
	TRACING=$(TRACING) ./bin/mercato up

## jaeger: build Jaeger v2 (v1.75.0) into bin/jaeger from its own module outside go.work (~5 min)
jaeger: bin/jaeger
bin/jaeger: tools/jaeger/go.mod tools/jaeger/go.sum
	@mkdir -p bin
	cd tools/jaeger && GOWORK=off $(GO) build -o ../../bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

## test: everything CI runs — generated code in sync, formatting, vet, then every module's tests
test: check web
	$(GO) test -count=1 -timeout 20m work

## test-short: the quick loop (skips the soak-style tests)
test-short:
	$(GO) test -short work

## check: generated code in sync with its sources (protobuf and ent), gofmt, go vet, buf lint
check: fmt vet
	proto/check.sh
	ent/check.sh

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

## fuzz: every Go fuzz target (func Fuzz… in a _test.go file) for FUZZTIME each; `make test`
## runs their seeds and committed corpora (testdata/fuzz) only
FUZZTIME ?= 30s
fuzz:
	@grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' $(MODULES) | sed 's|/[^/]*:func | |' | sort -u | \
	while read -r dir name; do \
		echo "==> $$dir $$name ($(FUZZTIME))"; \
		(cd "$$dir" && $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) .) || exit 1; \
	done

## bench-smoke: the current build on free ports under load from bin/loadgen; fails on any platform
## error (a failed call, outbox not drained, notifications != orders); no assertion on time
bench-smoke: build
	./bin/bench smoke

## bench: the benchmark suite: the current build beside a baseline build of $(BENCH_BASELINE)
## (a git worktree under .bench/), every figure of the performance issue, written to BENCHMARKS.md
BENCH_BASELINE ?= 45f491b
bench: build bench-baseline
	./bin/bench suite -baseline .bench/baseline -out BENCHMARKS.md

## bench-baseline: check out $(BENCH_BASELINE) as a git worktree in .bench/baseline and build it there
bench-baseline:
	@if [ ! -e .bench/baseline/.git ]; then git worktree add --detach .bench/baseline $(BENCH_BASELINE); fi
	@test "$$(git -C .bench/baseline rev-parse HEAD)" = "$$(git rev-parse $(BENCH_BASELINE)^{commit})" || \
	  { echo ".bench/baseline is not at $(BENCH_BASELINE): git worktree remove --force .bench/baseline"; exit 1; }
	$(MAKE) -C .bench/baseline build

## compose-bootstrap: once before `docker compose up` (again renews the agent's certificate within
## 30 days of expiry): the x509pop CA and agent certificate under .spire/, start SPIRE, write its
## trust bundle for the agent, create the registration entries (certs/spire/compose/entries.sh)
compose-bootstrap:
	$(GO) run ./certs/cmd/spire-x509pop -dir .spire/x509pop -cn mercato-compose-agent
	docker compose up -d --wait spire-server
	S="docker compose exec -T spire-server /opt/spire/bin/spire-server"; \
	$$S bundle show > .spire/bundle.pem; \
	SPIRE_SERVER="$$S" certs/spire/compose/entries.sh

## spire: build SPIRE's server and agent (v1.13.3, pinned by tools/spire/go.mod, a module of its
## own outside go.work so that SPIRE's dependency versions never join the workspace's) into
## .tools/spire/bin; minutes of compiling, once
SPIRE_BIN := $(CURDIR)/.tools/spire/bin
spire: $(SPIRE_BIN)/spire-server $(SPIRE_BIN)/spire-agent
$(SPIRE_BIN)/spire-%: tools/spire/go.mod tools/spire/go.sum
	cd tools/spire && GOWORK=off GOBIN=$(SPIRE_BIN) nice -n 10 $(GO) install github.com/spiffe/spire/cmd/spire-$*

## test-spire: the services on a real SPIRE server and agent (shipped compose configuration,
## entries.sh SELECTOR=unix, x509pop attestation): SVID and CA rotations under load with zero
## failed calls, then an agent outage longer than its own SVID (ops/spire); not part of `make test`
test-spire: spire
	SPIRE_BIN_DIR=$(SPIRE_BIN) $(GO) test -tags spire -count=1 -timeout 30m -v -run TestSPIRE ./ops/spire/

## k8s-register: create the SPIRE registration entries in a cluster (after kubectl apply -k
## deploy/k8s/…, once spire-server-0 is ready); idempotent
k8s-register:
	SPIRE_SERVER="kubectl exec -i -n spire spire-server-0 -c spire-server -- /opt/spire/bin/spire-server" \
	  certs/spire/k8s/entries.sh

clean:
	rm -rf bin .tools node_modules web/dist
