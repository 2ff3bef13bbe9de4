#!/usr/bin/env bash
# What re-reading a stale tenant catalog costs a node on PostgreSQL, for one tenant of N events:
# the full read (an exact-type search sweeps every posting bucket: one round trip per 4,096 events,
# per catalog event type), against the check done since (postings above the size the copy was read
# at: one or two buckets). A term with no postings stands for a tenant without catalog events.
# Usage: cargo build --release && scripts/perf-pg-catalog-refresh.sh [LOAD_DURATION, default 60s]
set -euo pipefail
B=$(realpath "${SEALBOOK_BIN:-target/release/sealbook}")
P=18097; DB=sealbook_refresh
HERE=$(cd "$(dirname "$0")" && pwd)
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt)
W=$(mktemp -d)
SEALBOOK_BIN=$B "$HERE"/perf-pg-setup.sh $DB "$W" "$P" >/dev/null
PID=$(pgrep -f " serve --listen 127.0.0.1:$P")
trap 'kill $PID 2>/dev/null || true' EXIT
URL=http://127.0.0.1:$P
K1=$(cut -d, -f1 "$W/keys")
echo "load: $("$B" hammer --url $URL --keys "$K1" --clients 8 --batch 1000 --duration "${1:-60s}" --json | tail -1)"
"${PSQL[@]}" -d $DB -c "ANALYZE"
for _ in 1 2 3; do
  curl -s -o /dev/null -w "full read of one catalog type over HTTP: %{time_total} s\n" \
    -H "Authorization: Bearer $K1" "$URL/v1/events?type=catalog.type_changed&limit=1000"
done
"${PSQL[@]}" -d $DB <<'SQL'
SET search_path = sealbook;
SET ROLE sealbook_perf_app;
SELECT set_config('sealbook.tenant_id', 't1', false) \gset
DO $$
DECLARE size bigint; after bigint; t0 timestamptz; old_ms float8; new_ms float8; b bigint; n int := 20; i int;
BEGIN
  SELECT h.size INTO size FROM log_heads h WHERE tenant_id = 't1';
  after := size - 5000;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    FOR b IN REVERSE (size - 1) >> 12 .. 0 LOOP
      PERFORM e.idx FROM terms t JOIN events e ON e.tenant_id = t.tenant_id AND e.idx = t.idx
        WHERE t.tenant_id = 't1' AND t.bucket = b AND t.term = 1234567 AND t.idx < size ORDER BY t.idx DESC LIMIT 1000;
    END LOOP;
  END LOOP;
  old_ms := extract(epoch FROM clock_timestamp() - t0) * 1000 / n;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    FOR b IN REVERSE (size - 1) >> 12 .. (after + 1) >> 12 LOOP
      PERFORM e.idx FROM terms t JOIN events e ON e.tenant_id = t.tenant_id AND e.idx = t.idx
        WHERE t.tenant_id = 't1' AND t.bucket = b AND t.term = 1234567 AND t.idx < size AND t.idx > after ORDER BY t.idx DESC LIMIT 1;
    END LOOP;
  END LOOP;
  new_ms := extract(epoch FROM clock_timestamp() - t0) * 1000 / n;
  RAISE NOTICE 'events %: full sweep % ms in the database over % buckets (one round trip each); check above size-5000 % ms over % bucket(s), per catalog type',
    size, round(old_ms::numeric, 3), ((size - 1) >> 12) + 1, round(new_ms::numeric, 3), ((size - 1) >> 12) - ((after + 1) >> 12) + 1;
END $$;
SQL
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
