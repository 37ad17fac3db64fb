#!/usr/bin/env bash
# generate.sh regenerates Mercato's Go and TypeScript code from the protobuf
# contracts in proto/mercato, offline and reproducibly.
#
#   proto/generate.sh           install pinned tools if missing, lint, format-check, generate
#   proto/generate.sh --check   the same, then fail if proto/ differs from what git has (CI)
#   proto/generate.sh --release-baseline   record the current contract as baseline.binpb
#                                          (at a release; buf breaking checks against it)
#
# Outputs, all committed: Go messages, Connect and grpc-go stubs under gen/go; the npm package
# @mercato/api under gen/ts (JavaScript + type declarations, and the package.json this script
# writes); schema.binpb, the current contract as a buf image (imports included) for
# `buf curl --schema proto/schema.binpb` from a fresh clone.
#
# Runs from any working directory. Tools are pinned below and installed into
# <repo>/.tools (gitignored): buf and protoc-gen-es from npm, protoc-gen-go,
# protoc-gen-connect-go and protoc-gen-go-grpc with `go install`. buf resolves no remote dependency:
# protovalidate's validate.proto is copied from the Go module cache into
# proto/.third_party (gitignored), which buf.yaml lists as a second module.
set -euo pipefail

# --- pinned versions --------------------------------------------------------
BUF_VERSION=1.75.0                  # npm @bufbuild/buf (prebuilt CLI)
PROTOC_GEN_ES_VERSION=2.13.0        # npm @bufbuild/protoc-gen-es; last 2.x that runs on Node 20 (2.14+ needs Node >= 22)
PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf, same as proto/go.mod
PROTOC_GEN_CONNECT_GO_VERSION=v1.21.1 # connectrpc.com/connect, same as proto/go.mod
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc (its stubs need grpc >= 1.64; proto/go.mod has v1.84.0)
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
  # The current contract as an image, committed: `buf curl --schema proto/schema.binpb` works
  # offline from a fresh clone (validate.proto is in the image; .third_party is not committed).
  cmp -s "$current" schema.binpb || install -m 0644 "$current" schema.binpb
  rm -f "$current"
  log "buf generate"
  # Start from an empty output tree so removed protos leave no stale files.
  rm -rf gen/go/mercato gen/ts
  buf generate
  write_ts_package gen/ts/package.json
  log "go build + vet of the proto module on its own (GOWORK=off)"
  GOWORK=off go build ./...
  GOWORK=off go vet ./...
}

# write_ts_package writes the package.json of @mercato/api (gen/ts, an npm workspace of the
# repository's package.json). Its peer dependency is the runtime the generated code was made for.
write_ts_package() {
  cat >"$1" <<JSON
{
  "name": "@mercato/api",
  "version": "0.1.0",
  "private": true,
  "description": "Mercato's contracts for TypeScript and JavaScript: messages and service descriptors generated by protoc-gen-es $PROTOC_GEN_ES_VERSION from proto/mercato (do not edit; run proto/generate.sh).",
  "type": "module",
  "sideEffects": false,
  "exports": {
    "./buf/*": {
      "types": "./buf/*.d.ts",
      "default": "./buf/*.js"
    },
    "./*": {
      "types": "./mercato/*.d.ts",
      "default": "./mercato/*.js"
    }
  },
  "peerDependencies": {
    "@bufbuild/protobuf": "$PROTOC_GEN_ES_VERSION"
  }
}
JSON
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
  install_go_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
  vendor_validate_proto
  if $baseline; then
    (cd "$PROTO_DIR" && buf build -o baseline.binpb)
    log "wrote baseline.binpb: the contract later changes are checked against"
  fi
  generate
  if $check; then check_drift; fi
}

main "$@"
