#!/usr/bin/env bash
# check.sh regenerates everything under ent/ (generate.sh: the clients from the schemas, and a
# new migration when a schema changed) and fails when the result differs from what git has: a
# schema edited without regenerating, generated code edited by hand, or a migration not
# committed. `make check` (and so CI) runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root="$(git rev-parse --show-toplevel)"

./generate.sh

drift="$(git -C "$root" status --porcelain --untracked-files=all -- ent)"
if [[ -n "$drift" ]]; then
  echo "ent/ is not what generate.sh produces (regenerate and commit the result):" >&2
  echo "$drift" >&2
  git -C "$root" --no-pager diff --stat -- ent >&2
  exit 1
fi
echo "ent: no drift in ent/" >&2
