#!/usr/bin/env bash
# Regenerates everything derived from the ent schemas, offline (Go module cache only):
#   1. each service's ent client:   ent/<service>/schema → ent/<service>
#   2. each service's next versioned migration, for SQLite and PostgreSQL, when the schema
#      changed: ent/<service>/migrate/migrations/{sqlite,postgres}/<timestamp>_<name>.sql
#
#   ent/generate.sh                  # name a new migration "changes"
#   ent/generate.sh add_order_notes  # name it yourself
#
# Step 2 diffs on dev databases: in-memory SQLite, and a temporary database on the local
# PostgreSQL server (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 postgres, or
# MERCATO_TEST_POSTGRES_URL), dropped afterwards. With no schema change it writes nothing,
# so a second run leaves `git status` clean.
set -euo pipefail
cd "$(dirname "$0")"

name="${1:-changes}"

echo "ent: generating clients" >&2
go run ./internal/entgen

echo "ent: diffing migrations" >&2
go run ./internal/migrategen -name "$name"

gofmt -l . | { ! grep .; } || { echo "ent: gofmt found unformatted files above" >&2; exit 1; }
