#!/usr/bin/env bash
# A seconds-long run of the performance harness, to prove it works end to end: start a server,
# create a tenant and a key, hammer it briefly in each mode, verify the log, run the baselines. It checks
# that the harness produced its JSON report; it asserts no timing.
set -euo pipefail
BIN=${1:-target/debug/sealbook}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$BIN" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^Sealbook listening on //p' "$work/out")
[ -n "$url" ] || { echo "server did not start"; cat "$work/log"; exit 1; }
export SEALBOOK_URL=$url
"$BIN" tenant create smoke --admin-token-file "$work/data/admin-token" >/dev/null
key=$("$BIN" key create --tenant smoke --scopes events:write,events:read --admin-token-file "$work/data/admin-token" 2>/dev/null)

check() { # name, json line, keys that must be present
  # The report must have its keys, and a run that met errors did not show the harness works.
  echo "$2" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); missing=[k for k in sys.argv[1].split(",") if k not in r]; sys.exit("missing "+",".join(missing) if missing else ("errors: %s" % r.get("errors_by_kind")) if r.get("errors", 0) else 0)' "$3"
  echo "harness smoke: $1: $2"
}
check ingest "$("$BIN" hammer --url "$url" --keys "$key" --clients 2 --batch 50 --count 2000 --json | tail -n 1)" events_per_sec,p50_ms,p90_ms,p99_ms,max_ms,errors
check ingest-rate "$("$BIN" hammer --url "$url" --keys "$key" --clients 2 --batch 10 --rate 500 --duration 2s --json | tail -n 1)" events_per_sec,p99_ms,errors
check query "$("$BIN" hammer --url "$url" --keys "$key" --clients 2 --batch 50 --mode query --count 200 --json | tail -n 1)" events_per_sec,requests_per_sec,p99_ms,errors
check proofs "$("$BIN" hammer --url "$url" --keys "$key" --clients 2 --mode proofs --count 200 --json | tail -n 1)" events_per_sec,p99_ms,errors
vkey=$(curl -sf -H "Authorization: Bearer $key" "$url/v1/log/verifier-keys")
check verify "$("$BIN" verify --url "$url" --key "$key" --vkey "$vkey" --json | tail -n 1)" verified,events_per_sec
check baseline-sqlite "$("$BIN" bench baseline --engine sqlite --batch 500 --rows 2000 --json | tail -n 1)" rows_per_sec,rows_per_sec_events_only
check baseline-postgres "$("$BIN" bench baseline --engine postgres --batch 500 --rows 2000 --json | tail -n 1)" rows_per_sec,rows_per_sec_insert
