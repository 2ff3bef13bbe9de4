#!/usr/bin/env bash
# Two builds measured in one run, against the raw SQLite baseline of that run: sustained ingest
# (1 tenant, batches of 100; 10 tenants, batches of 1,000; 20 s each) for build A, then build B.
# Used for "with and without" figures, e.g. redaction on (this build) and off (the commit before).
# Both servers are driven by build A's load generator, so they receive the same workload.
# An optional third build C (C_BIN, C_LABEL) is measured after B in the same run.
# Usage: A_BIN=path A_LABEL=… B_BIN=path B_LABEL=… [C_BIN=path C_LABEL=…] scripts/perf-ab.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
A=$(realpath "${A_BIN:?}"); B=$(realpath "${B_BIN:?}")
run() { # label, binary
  local w; w=$(mktemp -d)
  SEALBOOK_BIN=$2 "$HERE"/perf-setup.sh "$w" 18091
  local pid; pid=$(pgrep -f " serve --listen 127.0.0.1:18091")
  echo "$1 b100 1 tenant: $("$A" hammer --url http://127.0.0.1:18091 --keys "$(cut -d, -f1 "$w/keys")" --clients 8 --batch 100 --duration 20s --json | tail -1)"
  echo "$1 b1000 10 tenants: $("$A" hammer --url http://127.0.0.1:18091 --keys "$(cat "$w/keys")" --clients 10 --batch 1000 --duration 20s --json | tail -1)"
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -rf "$w"
}
echo "baseline: $("$A" bench baseline --engine sqlite --batch 1000 --rows 200000 --json | tail -1)"
run "${A_LABEL:-A}" "$A"
run "${B_LABEL:-B}" "$B"
if [ -n "${C_BIN:-}" ]; then run "${C_LABEL:-C}" "$(realpath "$C_BIN")"; fi
