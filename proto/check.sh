#!/usr/bin/env bash
# check.sh regenerates everything under proto/ and fails when the result differs
# from what git has (uncommitted or stale generated code). CI calls it.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/generate.sh" --check
