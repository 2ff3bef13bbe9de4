#!/usr/bin/env bash
# Outbox relay throughput: N events committed into an application's outbox (PostgreSQL), then one
# `sealbook relay` drains them into a release Sealbook server (embedded store): events/s from a
# committed outbox row to an acknowledged receipt.
# Usage: cargo build --release && scripts/perf-relay.sh [EVENTS] [PORT]
set -euo pipefail
B=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
N=${1:-100000}; P=${2:-18097}
HERE=$(cd "$(dirname "$0")" && pwd)
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS sealbook_relay_perf WITH (FORCE)" -c "CREATE DATABASE sealbook_relay_perf"
DB=postgres://postgres@127.0.0.1:5432/sealbook_relay_perf
W=$(mktemp -d)
SEALBOOK_BIN=$B "$HERE"/perf-setup.sh "$W" "$P"
PID=$(pgrep -f " serve --listen 127.0.0.1:$P")
trap 'kill $PID 2>/dev/null || true' EXIT
cut -d, -f1 "$W/keys" > "$W/key"
"$B" relay --database-url "$DB" --url "http://127.0.0.1:$P" --key-file "$W/key" --migrate --until-empty >/dev/null
# N committed audit events over 1,000 subjects, shaped like the SDK's builder makes them.
"${PSQL[@]}" -d sealbook_relay_perf -c "
INSERT INTO sealbook_outbox(event_id, subject_key, partition, event)
SELECT 'perf-' || i, 'order:o-' || (i % 1000), (i % 64),
  format('{\"id\":\"perf-%s\",\"type\":\"order.status_changed\",\"occurred_at\":\"2026-11-26T08:00:00Z\",\"actor\":{\"type\":\"user\",\"id\":\"u-%s\",\"name\":\"User %s\"},\"subject\":{\"type\":\"order\",\"id\":\"o-%s\"},\"changes\":[{\"field\":\"status\",\"before\":\"open\",\"after\":\"shipped\"}],\"refs\":{\"order_number\":\"PO-%s\"},\"context\":{\"correlation_id\":\"req-%s\"}}', i, i % 97, i % 97, i % 1000, i, i)
FROM generate_series(1, $N) AS i"
echo "relay: $("$B" relay --database-url "$DB" --url "http://127.0.0.1:$P" --key-file "$W/key" --batch 500 --until-empty | tail -1)"
