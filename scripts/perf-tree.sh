#!/usr/bin/env bash
# What tamper evidence costs on the write path, measured in one run: sustained ingest (10 tenants,
# batches of 1,000, 20 s) with tree integration and checkpoints every second, with integration but
# no checkpoints, and with neither (a build of commit 0f50d93, the last before integration), next
# to the raw SQLite baseline of the same run.
# Usage: cargo build --release && NO_TREE_BIN=/path/to/old/sealbook scripts/perf-tree.sh
set -euo pipefail
B=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
OLD=$(realpath "${NO_TREE_BIN:?build commit 0f50d93 and pass its binary as NO_TREE_BIN}")
HERE=$(cd "$(dirname "$0")" && pwd)
run() { # label, binary, serve flags
  local w; w=$(mktemp -d)
  SEALBOOK_BIN=$2 SEALBOOK_SERVE_FLAGS=$3 "$HERE"/perf-setup.sh "$w" 18090
  local pid; pid=$(pgrep -f " serve --listen 127.0.0.1:18090")
  echo "$1: $("$2" hammer --url http://127.0.0.1:18090 --keys "$(cat "$w/keys")" --clients 10 --batch 1000 --duration 20s --json | tail -1)"
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -rf "$w"
}
echo "baseline: $("$B" bench baseline --engine sqlite --batch 1000 --rows 200000 --json | tail -1)"
run "tree+checkpoints" "$B" ""
run "tree, no checkpoints" "$B" "--checkpoint-interval 1h"
run "no tree (0f50d93)" "$OLD" ""
