#!/usr/bin/env bash
# The web UI's pages at scale (issue 14's benchmark): EVENTS events (default 1,000,000) of the
# harness's workload in one tenant, a tenant admin signed in through the real forms, then REQUESTS
# (default 200) sequential loads of each page below. Prints p50, p99 and max in milliseconds, as
# curl's total time on loopback (the server's work, one loopback round trip, and the transfer of
# the page), and the server's RSS after. Usage: [SEALBOOK_BIN=…] [EVENTS=…] [REQUESTS=…]
# scripts/perf-ui.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
N=${EVENTS:-1000000}; R=${REQUESTS:-200}; P=18095
w=$(mktemp -d)
SEALBOOK_BIN=$B "$HERE"/perf-setup.sh "$w" $P
pid=$(pgrep -f " serve --listen 127.0.0.1:$P")
trap 'kill $pid 2>/dev/null || true; rm -rf "$w"' EXIT
U=http://127.0.0.1:$P
K=$(cut -d, -f1 "$w/keys")
T=$(cat "$w/data/admin-token")
echo "filling: $("$B" hammer --url $U --keys "$K" --clients 8 --batch 1000 --count "$N" --json | tail -1)"

# A tenant admin: invited, password set and signed in through the forms, as a browser does.
link=$(curl -sf -X POST "$U/v1/tenants/t1/users" -H "authorization: Bearer $T" -H 'content-type: application/json' \
  -d '{"email": "bench@example.com", "role": "tenant_admin"}' | sed -E 's/.*"set_password_path":"([^"]*)".*/\1/')
token=${link#*token=}
pw='a benchmark password, long enough'
curl -sf -o /dev/null -X POST "$U/ui/set-password" -H 'sec-fetch-site: same-origin' \
  --data-urlencode "token=$token" --data-urlencode "password=$pw" --data-urlencode "confirm=$pw"
cookie=$(curl -s -o /dev/null -D - -X POST "$U/ui/login" -H 'sec-fetch-site: same-origin' \
  --data-urlencode tenant=t1 --data-urlencode email=bench@example.com --data-urlencode "password=$pw" \
  | tr -d '\r' | sed -nE 's/^[Ss]et-[Cc]ookie: (__Host-sealbook=[^;]*).*/\1/p')
[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }
id=$(curl -sf "$U/v1/events?limit=1&type=order.status_changed" -H "authorization: Bearer $K" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["events"][0]["id"])')

measure() { # label, path
  local times
  times=$(for _ in $(seq "$R"); do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "cookie: $cookie" "$U$2"
  done)
  if echo "$times" | grep -qv '^200 '; then echo "$1: a request failed: $(echo "$times" | grep -v '^200 ' | head -1)" >&2; exit 1; fi
  echo "$times" | awk -v label="$1" '{ print $2 * 1000 }' | sort -n | awk -v label="$1" '
    { v[NR] = $1 } END { printf "%s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d requests)\n", label, v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR], NR }'
}
measure "search, no filter" "/ui/search"
measure "search, actor" "/ui/search?actor=user-17"
measure "search, exact type" "/ui/search?type=override.applied"
measure "search, type prefix" "/ui/search?type=integration.*"
measure "search, reference" "/ui/search?ref=order_number%3APO-4472"
measure "search, actor and a day" "/ui/search?actor=user-17&from=2026-01-01T00%3A00&to=2026-12-31T00%3A00&tz=Europe%2FParis"
measure "event detail (verified badge, timeline)" "/ui/events/$id"
echo "server RSS after: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/"$pid"/status)"
