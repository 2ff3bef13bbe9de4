#!/usr/bin/env bash
# Exports at scale (issue 14's benchmark): EVENTS events (default 1,000,000) of the harness's
# workload in one tenant, then `GET /v1/exports/events` as CSV and as verifiable JSON lines with
# curl on loopback, each timed whole (count, audit record, every row) and read to the end. Prints
# rows, bytes, seconds and rows/s per format, and the server's RSS before and at its peak (sampled
# every 50 ms during the exports), then the raw database read for scale.
# Usage: [SEALBOOK_BIN=…] [EVENTS=…] scripts/perf-export.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
N=${EVENTS:-1000000}; P=18096
w=$(mktemp -d)
SEALBOOK_BIN=$B "$HERE"/perf-setup.sh "$w" $P
pid=$(pgrep -f " serve --listen 127.0.0.1:$P")
trap 'kill $pid 2>/dev/null || true; rm -rf "$w"' EXIT
U=http://127.0.0.1:$P
K=$(cut -d, -f1 "$w/keys")
echo "filling: $("$B" hammer --url $U --keys "$K" --clients 8 --batch 1000 --count "$N" --json | tail -1)"
X=$(SEALBOOK_URL=$U "$B" key create --tenant t1 --scopes events:export,events:read --admin-token-file "$w/data/admin-token" 2>/dev/null)
rss() { awk '/VmRSS/ {print int($2 / 1024)}' /proc/"$pid"/status; }
echo "server RSS before: $(rss) MiB"
peak=0
for format in csv jsonl; do
  ( while sleep 0.05; do rss; done ) > "$w/rss.$format" &
  sampler=$!
  start=$(date +%s.%N)
  bytes=$(curl -sf -H "authorization: Bearer $X" "$U/v1/exports/events?format=$format" | tee "$w/out.$format" | wc -c)
  end=$(date +%s.%N)
  kill $sampler
  rows=$(wc -l < "$w/out.$format")
  p=$(sort -n "$w/rss.$format" | tail -1)
  [ "${p:-0}" -gt "$peak" ] && peak=$p
  awk -v f="$format" -v r="$rows" -v b="$bytes" -v s="$start" -v e="$end" -v p="$p" \
    'BEGIN { printf "%s: %d lines, %.1f MB in %.2f s: %.0f rows/s (server RSS peak %d MiB)\n", f, r, b / 1e6, e - s, r / (e - s), p }'
  rm -f "$w/out.$format"
done
# The raw database in the same run, for scale: SQLite's own shell reading every leaf and its
# personal values (no parsing, no output), the floor under any export of this store.
if command -v sqlite3 >/dev/null; then
  start=$(date +%s.%N)
  rows=$(sqlite3 "$w/data/sealbook.db" "SELECT count(*), sum(length(e.leaf) + ifnull(length(p.data), 0)) FROM events e LEFT JOIN personal p ON p.rowid = e.rowid" | cut -d'|' -f1)
  end=$(date +%s.%N)
  awk -v r="$rows" -v s="$start" -v e="$end" \
    'BEGIN { printf "raw sqlite3 read of every leaf and its personal values: %d rows in %.2f s: %.0f rows/s\n", r, e - s, r / (e - s) }'
fi
