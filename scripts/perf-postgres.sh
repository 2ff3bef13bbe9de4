#!/usr/bin/env bash
# Sealbook on PostgreSQL against the raw PostgreSQL baseline, in one run: a fresh database
# (sealbook_perf, dropped first), migrated by the owner, served by a release node connected as a
# plain member of sealbook_rw; ingest over HTTP with batches of 100 and of 1,000, next to a raw
# binary COPY of the same rows into the same table layout.
# Usage: cargo build --release && scripts/perf-postgres.sh [PORT]
set -euo pipefail
B=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
P=${1:-18095}
HERE=$(cd "$(dirname "$0")" && pwd)
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt)
W=$(mktemp -d)
SEALBOOK_BIN=$B "$HERE"/perf-pg-setup.sh sealbook_perf "$W" "$P"
PID=$(pgrep -f " serve --listen 127.0.0.1:$P")
trap 'kill $PID 2>/dev/null || true' EXIT
URL=http://127.0.0.1:$P
K1=$(cut -d, -f1 "$W/keys")
echo "baseline COPY b1000: $("$B" bench baseline --engine postgres --batch 1000 --rows 100000 --json | tail -1)"
echo "baseline COPY b100: $("$B" bench baseline --engine postgres --batch 100 --rows 50000 --json | tail -1)"
echo "ingest b100 1 tenant: $("$B" hammer --url $URL --keys "$K1" --clients 8 --batch 100 --duration 20s --json | tail -1)"
echo "ingest b1000 10 tenants: $("$B" hammer --url $URL --keys "$(cat "$W/keys")" --clients 10 --batch 1000 --duration 20s --json | tail -1)"
# Fresh tables have no planner statistics until autovacuum analyzes them (this machine runs
# PostgreSQL with autovacuum off): analyze once, as autovacuum would, before measuring search.
"${PSQL[@]}" -d sealbook_perf -c "ANALYZE"
echo "query: $("$B" hammer --url $URL --keys "$K1" --clients 4 --batch 50 --mode query --duration 10s --json | tail -1)"
echo "proofs: $("$B" hammer --url $URL --keys "$K1" --clients 8 --mode proofs --duration 10s --json | tail -1)"
