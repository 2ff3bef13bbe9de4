#!/usr/bin/env bash
# A fresh PostgreSQL database DB (dropped first), migrated by the owner, served on PORT by a release
# node connected as a plain member of sealbook_rw, with 10 tenants and their keys in DIR/keys (see
# perf-setup.sh). Used by perf-postgres.sh and perf-pg-catalog-refresh.sh.
# Usage: SEALBOOK_BIN=path scripts/perf-pg-setup.sh DB DIR PORT
set -euo pipefail
DB=$1; W=$2; P=$3
B=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d postgres -c "DO \$\$ BEGIN CREATE ROLE sealbook_perf_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"
"$B" migrate --database-owner-url "postgres://postgres@127.0.0.1:5432/$DB" --grant-to sealbook_perf_app
SEALBOOK_BIN=$B SEALBOOK_SERVE_FLAGS="--database-url postgres://sealbook_perf_app@127.0.0.1:5432/$DB" \
  "$(dirname "$0")"/perf-setup.sh "$W" "$P"
