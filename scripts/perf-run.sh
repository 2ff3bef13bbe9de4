#!/usr/bin/env bash
# The full measurement run behind docs/performance.md: the raw SQLite baseline and Sealbook's
# figures in the same run, on this machine. Server and load generator share the machine's cores.
# Usage: cargo build --release && scripts/perf-run.sh [WORKDIR] [PORT]
set -euo pipefail
export SEALBOOK_BIN=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
B=$SEALBOOK_BIN
W=${1:-$(mktemp -d)}; P=${2:-18080}
"$(dirname "$0")"/perf-setup.sh "$W" "$P"
cd "$W"
PID=$(pgrep -f " serve --listen 127.0.0.1:$P")
trap 'kill $PID 2>/dev/null || true' EXIT
URL=http://127.0.0.1:$P
K1=$(cut -d, -f1 keys)
echo "baseline: $("$B" bench baseline --engine sqlite --batch 1000 --rows 200000 --json | tail -1)"
echo "ingest b100 1 tenant: $("$B" hammer --url $URL --keys "$K1" --clients 8 --batch 100 --duration 20s --json | tail -1)"
( while sleep 0.5; do awk '/VmRSS/{print $2}' /proc/$PID/status; done > rss.txt ) & W_PID=$!
echo "ingest b1000 10 tenants: $("$B" hammer --url $URL --keys "$(cat keys)" --clients 10 --batch 1000 --duration 20s --json | tail -1)"
kill $W_PID; echo "server rss max KB during ingest: $(sort -n rss.txt | tail -1)"
echo "latency 5000/s b10: $("$B" hammer --url $URL --keys "$(cat keys)" --clients 10 --batch 10 --rate 5000 --duration 20s --json | tail -1)"
echo "query: $("$B" hammer --url $URL --keys "$K1" --clients 4 --batch 50 --mode query --duration 10s --json | tail -1)"
"$B" hammer --url $URL --keys "$K1" --mode proofs --clients 1 --count 100 --json >/dev/null  # warm the tile cache
echo "proofs: $("$B" hammer --url $URL --keys "$K1" --clients 8 --mode proofs --duration 10s --json | tail -1)"
VKEY=$(curl -s -H "Authorization: Bearer $K1" "$URL/v1/log/verifier-keys")
echo "verify t1: $("$B" verify --url $URL --key "$K1" --vkey "$VKEY" --json | tail -1)"
echo "events in t1: $(curl -s -H "Authorization: Bearer $K1" "$URL/v1/events?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"][0]["index"]+1)')"
