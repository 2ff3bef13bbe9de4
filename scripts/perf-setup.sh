#!/usr/bin/env bash
# Starts a release server in DIR on PORT, creates 10 tenants with one read+write key each, and
# writes the keys (comma-separated) to DIR/keys. Used by scripts/perf-run.sh. Extra `serve` flags
# may be given in SEALBOOK_SERVE_FLAGS. The per-key rate limit (on by default) is turned off: the
# load generator measures the node, not the limit.
set -euo pipefail
D=$1; P=$2; B=${SEALBOOK_BIN:-target/release/sealbook}
B=$(realpath "$B")
mkdir -p "$D"; cd "$D"
# shellcheck disable=SC2086
"$B" serve --listen 127.0.0.1:"$P" --data-dir ./data --rate-limit-per-key 0 ${SEALBOOK_SERVE_FLAGS:-} > out.log 2> err.log &
for _ in $(seq 100); do grep -q 'listening on' out.log 2>/dev/null && break; sleep 0.1; done
# A server that did not start (a port still taken by an earlier run) must not go unnoticed: the
# commands below would talk to whatever holds the port.
grep -q 'listening on' out.log || { echo "the server did not start:" >&2; cat err.log >&2; exit 1; }
export SEALBOOK_URL=http://127.0.0.1:$P
keys=()
for t in t1 t2 t3 t4 t5 t6 t7 t8 t9 t10; do
  "$B" tenant create "$t" --admin-token-file data/admin-token >/dev/null
  keys+=("$("$B" key create --tenant "$t" --scopes events:write,events:read --admin-token-file data/admin-token 2>/dev/null)")
done
(IFS=,; echo "${keys[*]}") > keys
