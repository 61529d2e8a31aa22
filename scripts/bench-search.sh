#!/usr/bin/env bash
# make bench-search: GET /search with the search language over 100,000 tasks of one user on
# PostgreSQL, the release binary pinned to one core (CPU 1, beside PostgreSQL's backends) and wrk
# on the other, for BENCH_DURATION (default 10 s) per query and client count: one client (a
# search's latency) and eight (what the core serves; each waits for the seven others). Each answer
# holds a page of 10 tasks, the total and the facets (every match counted). Figures (req/s, p50,
# p95, p99) go to target/bench/search.md. Needs wrk and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${BENCH_PORT:-18190}
DURATION=${BENCH_DURATION:-10s}
TASKS=${BENCH_SEARCH_TASKS:-100000}
PG_ADMIN_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=wb_bench_search
DB_URL="${PG_ADMIN_URL%/*}/$DB_NAME"
BASE=http://127.0.0.1:$PORT
OUT=target/bench
BIN=${BENCH_BIN:-target/release/workbench}
mkdir -p "$OUT"

for tool in wrk psql; do
    command -v "$tool" >/dev/null || { echo "make bench-search needs $tool" >&2; exit 1; }
done

[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -q -p workbench-app --bin workbench
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"

pg_master=$(psql -qtA "$PG_ADMIN_URL" -c 'SELECT pg_postmaster_start_time()' >/dev/null && pgrep -o -x postgres || true)
pin_postgres() { [ -n "$pg_master" ] || return 0
    for p in "$pg_master" $(pgrep -P "$pg_master" || true); do taskset -a -cp "$1" "$p" >/dev/null 2>&1 || true; done; }

server_pid=
stop_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; }
trap 'stop_server; pin_postgres "0-$(($(nproc) - 1))"' EXIT
DATABASE_URL="$DB_URL" PORT=$PORT BCRYPT_COST=4 JWT_SECRET=bench-secret-bench-secret-bench-secret \
    RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_AUTH_PER_MINUTE=0 LOG_FORMAT=json RUST_LOG=warn \
    taskset -c 1 "$BIN" serve > "$OUT/server-search.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done

json_field() { sed -E "s/.*\"$1\":\"?([^\",}]*)\"?.*/\1/"; echo; }
curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"username":"searcher","email":"searcher@example.com","password":"bench-password"}' >/dev/null
token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"searcher@example.com","password":"bench-password"}' | json_field access_token)
owner=$(curl -sf "$BASE/api/v1/users/me" -H "authorization: Bearer $token" | json_field id)

# Titles from a few words, so that a word matches a share of the tasks; three statuses, three
# priorities, one or two of five tags, due dates over a year.
echo "== $TASKS tasks of one user"
psql -q "$DB_URL" <<SQL
INSERT INTO tasks (title, status, priority, priority_rank, owner_id, version, search_text, created_at, updated_at,
                   tags, due_date)
SELECT t.title, (ARRAY['pending','in_progress','completed'])[1 + n % 3],
       (ARRAY['low','medium','high'])[1 + (n / 3) % 3], 1 + (n / 3) % 3, $owner, 1, lower(t.title),
       TIMESTAMP '2026-01-01' + n * INTERVAL '1 second', TIMESTAMP '2026-01-01' + n * INTERVAL '1 second',
       CASE WHEN n % 7 = 0 THEN '["home","kitchen"]'
            ELSE '["' || (ARRAY['home','work','shop','garden','car'])[1 + n % 5] || '"]' END,
       TIMESTAMP '2026-01-01' + (n % 365) * INTERVAL '1 day'
FROM generate_series(1, $TASKS) AS n,
     LATERAL (SELECT (ARRAY['Descale','Clean','Buy','Fix','Paint','Check'])[1 + n % 6] || ' the ' ||
                     (ARRAY['kettle','oven','fence','bike','roof','desk','lamp'])[1 + n % 7] || ' #' || n AS title) t;
WITH moved AS (DELETE FROM task_count_changes RETURNING user_id, status, delta)
INSERT INTO task_counts (user_id, status, n)
SELECT user_id, status, SUM(delta) FROM moved GROUP BY user_id, status
ON CONFLICT (user_id, status) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
VACUUM ANALYZE tasks, task_tags, task_counts, task_count_changes;
SQL

cat > "$OUT/search-percentiles.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout
  io.write(string.format("RESULT %.0f %.2f %.2f %.2f %d\n", summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
LUA

pin_postgres 1
{
    echo "# GET /search over $TASKS tasks (PostgreSQL, one core for server and database, wrk -d$DURATION)"
    echo
    echo "| q | matches | clients | req/s | p50 ms | p95 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT/search.md"
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
for q in 'status:pending priority:high tag:home' 'kettle status:pending tag:kitchen' \
    'descale -kettle priority:high due:<2026-06-01' 'type:task the'; do
    url="$BASE/api/v1/search?q=$(urlencode "$q")"
    matches=$(curl -sf "$url" -H "authorization: Bearer $token" | sed -E 's/.*"totals":\{"tasks":([0-9]+).*/\1/')
    for clients in 1 8; do
        result=$(taskset -c 0 wrk -t1 -c"$clients" -d"$DURATION" -H "authorization: Bearer $token" \
            -s "$OUT/search-percentiles.lua" "$url" | grep '^RESULT')
        read -r _ rps p50 p95 p99 errors <<< "$result"
        echo "   $q ($clients): $matches matches, $rps req/s, p50 $p50 ms, p95 $p95 ms, p99 $p99 ms, $errors errors"
        echo "| \`$q\` | $matches | $clients | $rps | $p50 | $p95 | $p99 | $errors |" >> "$OUT/search.md"
    done
done
echo "figures in $OUT/search.md"
