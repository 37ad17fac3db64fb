#!/usr/bin/env bash
# generate.sh regenerates Mercato's Go and TypeScript code from the protobuf
# contracts in proto/mercato, offline and reproducibly.
#
#   proto/generate.sh           install pinned tools if missing, lint, format-check, generate
#   proto/generate.sh --check   the same, then fail if proto/ differs from what git has (CI)
#   proto/generate.sh --release-baseline   record the current contract as baseline.binpb
#                                          (at a release; buf breaking checks against it)
#
# Runs from any working directory. Tools are pinned below and installed into
# <repo>/.tools (gitignored): buf and protoc-gen-es from npm, protoc-gen-go and
# protoc-gen-connect-go with `go install`. buf resolves no remote dependency:
# protovalidate's validate.proto is copied from the Go module cache into
# proto/.third_party (gitignored), which buf.yaml lists as a second module.
set -euo pipefail

# --- pinned versions --------------------------------------------------------
BUF_VERSION=1.75.0                  # npm @bufbuild/buf (prebuilt CLI)
PROTOC_GEN_ES_VERSION=2.13.0        # npm @bufbuild/protoc-gen-es; last 2.x that runs on Node 20 (2.14+ needs Node >= 22)
PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf, same as proto/go.mod
PROTOC_GEN_CONNECT_GO_VERSION=v1.21.1 # connectrpc.com/connect, same as proto/go.mod
PROTOVALIDATE_PROTO_VERSION=v1.2.2  # github.com/bufbuild/protovalidate, source of buf/validate/validate.proto

# --- paths ------------------------------------------------------------------
PROTO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(git -C "$PROTO_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$PROTO_DIR/.." && pwd))"
TOOLS="$ROOT/.tools"
export PATH="$TOOLS/bin:$TOOLS/npm/node_modules/.bin:$PATH"

log() { printf '==> %s\n' "$*" >&2; }

# installed_version prints the first version-looking word of `$1 --version`, or nothing.
installed_version() {
  command -v "$1" >/dev/null 2>&1 || return 0
  "$1" --version 2>/dev/null | grep -oE 'v?[0-9]+\.[0-9]+\.[0-9]+' | head -n1 | sed 's/^v//'
}

install_npm_tools() {
  if [[ "$(installed_version buf)" == "$BUF_VERSION" &&
        "$(installed_version protoc-gen-es)" == "$PROTOC_GEN_ES_VERSION" ]]; then
    return
  fi
  log "installing @bufbuild/buf@$BUF_VERSION @bufbuild/protoc-gen-es@$PROTOC_GEN_ES_VERSION into $TOOLS/npm"
  mkdir -p "$TOOLS/npm"
  # Both in one command: a later `npm install --prefix` would prune the other.
  npm install --prefix "$TOOLS/npm" --save-exact --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION" "@bufbuild/protoc-gen-es@$PROTOC_GEN_ES_VERSION" >&2
}

# install_go_tool BINARY PACKAGE VERSION
install_go_tool() {
  local bin=$1 pkg=$2 version=$3
  [[ "$(installed_version "$bin")" == "${version#v}" ]] && return
  log "installing $pkg@$version into $TOOLS/bin"
  GOBIN="$TOOLS/bin" GOWORK=off go install "$pkg@$version"
}

# vendor_validate_proto copies buf/validate/validate.proto from the Go module cache.
vendor_validate_proto() {
  local dir src dst="$PROTO_DIR/.third_party/buf/validate/validate.proto"
  dir="$(cd "$PROTO_DIR" && GOWORK=off go mod download -json \
    "github.com/bufbuild/protovalidate@$PROTOVALIDATE_PROTO_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  src="$dir/proto/protovalidate/buf/validate/validate.proto"
  [[ -f "$src" ]] || { echo "validate.proto not found at $src" >&2; exit 1; }
  mkdir -p "$(dirname "$dst")"
  cmp -s "$src" "$dst" 2>/dev/null || install -m 0644 "$src" "$dst"
}

generate() {
  cd "$PROTO_DIR"
  log "buf lint"
  buf lint
  log "buf format (diff must be empty)"
  buf format -d --exit-code --path mercato
  log "buf breaking against baseline.binpb (the last released contract)"
  # A removed or renumbered field, a renamed RPC or a changed type fails here. The baseline is
  # refreshed deliberately at a release: proto/generate.sh --release-baseline.
  local current
  current="$(mktemp --suffix=.binpb)"
  buf build -o "$current"
  buf breaking "$current" --against baseline.binpb
  rm -f "$current"
  log "buf generate"
  # Start from an empty output tree so removed protos leave no stale files.
  rm -rf gen/go/mercato gen/ts
  buf generate
  log "go build + vet of the proto module on its own (GOWORK=off)"
  GOWORK=off go build ./...
  GOWORK=off go vet ./...
}

check_drift() {
  local drift
  drift="$(git -C "$ROOT" status --porcelain --untracked-files=all -- proto)"
  if [[ -n "$drift" ]]; then
    echo "proto/ is not what generate.sh produces (commit the regenerated files):" >&2
    echo "$drift" >&2
    git -C "$ROOT" --no-pager diff --stat -- proto >&2
    exit 1
  fi
  log "no drift in proto/"
}

main() {
  local check=false baseline=false
  case "${1:-}" in
    "") ;;
    --check) check=true ;;
    --release-baseline) baseline=true ;;
    *) echo "usage: $0 [--check | --release-baseline]" >&2; exit 2 ;;
  esac
  install_npm_tools
  install_go_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
  install_go_tool protoc-gen-connect-go connectrpc.com/connect/cmd/protoc-gen-connect-go "$PROTOC_GEN_CONNECT_GO_VERSION"
  vendor_validate_proto
  if $baseline; then
    (cd "$PROTO_DIR" && buf build -o baseline.binpb)
    log "wrote baseline.binpb: the contract later changes are checked against"
  fi
  generate
  if $check; then check_drift; fi
}

main "$@"
