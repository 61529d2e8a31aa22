#!/usr/bin/env bash
# make bench-project: a project of 100,000 tasks and 50 members on PostgreSQL, the release binary
# pinned to one core (CPU 1, beside PostgreSQL's backends) and wrk on the other. Runs of
# BENCH_DURATION (default 10 s) at 16 connections, each request by a random member:
#   reads     GET /tasks?project_id=P&page=N, N random over every page (all 5,000 reachable);
#   mixed     the same, with one request in ten a POST /tasks into the project, so that the
#             project's cached pages are forgotten all the time and most reads reach the database;
#   bucket    GET /projects/P/buckets/B/tasks?page=N: the board's column of all 100,000, in order;
#   move      POST /tasks/{random}/move into that column after another random task: one row
#             written (the column never renumbered), moves serialised per bucket;
#   relate    POST /tasks/{random}/relations {blocks, random}: each with its cycle check over the
#             blockers reachable from the blocked task (a cycle is a 422, counted apart);
#   field     GET /tasks?project_id=P&field.<room>=<one of 4>&page=N: a custom field's filter
#             matching a quarter of the project, a random page of it;
#   range     GET /tasks?project_id=P&field.<points>>=<random>&page=1: a number field's range.
# Figures (req/s, p50, p99) go to target/bench/project.md. Needs wrk and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${BENCH_PORT:-18189}
DURATION=${BENCH_DURATION:-10s}
TASKS=${BENCH_PROJECT_TASKS:-100000}
MEMBERS=${BENCH_PROJECT_MEMBERS:-50}
PG_ADMIN_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=wb_bench_project
DB_URL="${PG_ADMIN_URL%/*}/$DB_NAME"
BASE=http://127.0.0.1:$PORT
OUT=target/bench
mkdir -p "$OUT"

for tool in wrk psql; do
    command -v "$tool" >/dev/null || { echo "make bench-project needs $tool" >&2; exit 1; }
done

[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -q -p workbench-app --bin workbench
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"

# PostgreSQL beside the server on CPU 1 (its backends inherit it), as ../shared/bench/compare.sh
# pins it; back on every CPU afterwards.
pg_master=$(psql -qtA "$PG_ADMIN_URL" -c 'SELECT pg_postmaster_start_time()' >/dev/null && pgrep -o -x postgres || true)
pin_postgres() { [ -n "$pg_master" ] || return 0
    for p in "$pg_master" $(pgrep -P "$pg_master" || true); do taskset -a -cp "$1" "$p" >/dev/null 2>&1 || true; done; }

server_pid=
stop_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; }
trap 'stop_server; pin_postgres "0-$(($(nproc) - 1))"' EXIT
DATABASE_URL="$DB_URL" PORT=$PORT BCRYPT_COST=4 JWT_SECRET=bench-secret-bench-secret-bench-secret \
    RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_AUTH_PER_MINUTE=0 LOG_FORMAT=json RUST_LOG=warn \
    taskset -c 1 target/release/workbench serve > "$OUT/server-project.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done

json_field() { sed -E "s/.*\"$1\":\"?([^\",}]*)\"?.*/\1/"; echo; }
token_of() {
    curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"username\":\"member$1\",\"email\":\"member$1@example.com\",\"password\":\"bench-password\"}" \
        | json_field id > "$OUT/project-id-$1"
    curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"member$1@example.com\",\"password\":\"bench-password\"}" | json_field access_token
}

echo "== $MEMBERS members, one project"
: > "$OUT/project-tokens"
for m in $(seq 1 "$MEMBERS"); do token_of "$m" >> "$OUT/project-tokens"; done
admin=$(head -n1 "$OUT/project-tokens")
project=$(curl -sf "$BASE/api/v1/projects" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d '{"name":"Big"}' | json_field id)
for m in $(seq 2 "$MEMBERS"); do
    curl -sf "$BASE/api/v1/projects/$project/members" -H "authorization: Bearer $admin" \
        -H 'content-type: application/json' -d "{\"user_id\":$(cat "$OUT/project-id-$m"),\"role\":\"editor\"}" >/dev/null
done
owner=$(cat "$OUT/project-id-1")

field_id() { curl -sf "$BASE/api/v1/projects/$project/fields" -H "authorization: Bearer $admin" \
    -H 'content-type: application/json' -d "$1" | json_field id; }
room=$(field_id '{"name":"Room","type":"select","options":["Kitchen","Hall","Bath","Attic"]}')
points=$(field_id '{"name":"Points","type":"number"}')
bucket=$(curl -sf "$BASE/api/v1/projects/$project/buckets" -H "authorization: Bearer $admin" \
    | sed -E 's/.*"data":\[\{"id":([0-9]+).*/\1/')

echo "== $TASKS tasks in it, all in its first bucket, each with a room and points"
# The bucket's counter trigger updates one row per task: 100,000 versions of one row in one
# statement. Off for the bulk insert, and the counter set once after it.
psql -q "$DB_URL" <<SQL
ALTER TABLE tasks DISABLE TRIGGER tasks_bucket_entered;
INSERT INTO tasks (title, status, priority, priority_rank, owner_id, version, search_text, created_at, updated_at, tags, project_id,
                   bucket_id, fields)
SELECT 'Task ' || n, (ARRAY['pending','in_progress','completed'])[1 + n % 3], 'medium', 2, $owner, 1, 'task ' || n,
       TIMESTAMP '2026-01-01' + n * INTERVAL '1 second', TIMESTAMP '2026-01-01' + n * INTERVAL '1 second', '[]', $project,
       $bucket, json_build_object('$room', (ARRAY['Kitchen','Hall','Bath','Attic'])[1 + n % 4], '$points', n % 100)::text
FROM generate_series(1, $TASKS) AS n;
ALTER TABLE tasks ENABLE TRIGGER tasks_bucket_entered;
UPDATE buckets SET task_count = (SELECT count(*) FROM tasks WHERE tasks.bucket_id = buckets.id);
WITH moved AS (DELETE FROM task_count_changes RETURNING user_id, status, delta)
INSERT INTO task_counts (user_id, status, n)
SELECT user_id, status, SUM(delta) FROM moved GROUP BY user_id, status
ON CONFLICT (user_id, status) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
VACUUM ANALYZE tasks, task_counts, task_count_changes, task_field_values, buckets;
SQL
pages=$(( (TASKS + 19) / 20 ))
total=$(curl -sf "$BASE/api/v1/tasks?project_id=$project" -H "authorization: Bearer $admin" | sed -E 's/.*"total":([0-9]+).*/\1/')
echo "   a member lists $total tasks, $pages pages"

cat > "$OUT/project.lua" <<'LUA'
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local project, pages = os.getenv("PROJECT"), tonumber(os.getenv("PAGES"))
local writes = tonumber(os.getenv("WRITES"))
local mode, tasks = os.getenv("MODE"), tonumber(os.getenv("TASKS"))
local bucket, room, points = os.getenv("BUCKET"), os.getenv("ROOM"), os.getenv("POINTS")
local rooms = { "Kitchen", "Hall", "Bath", "Attic" }
local n = 0
request = function()
    n = n + 1
    local headers = { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] }
    if mode == "bucket" then
        return wrk.format("GET", "/api/v1/projects/" .. project .. "/buckets/" .. bucket .. "/tasks?page=" .. math.random(pages), headers)
    elseif mode == "move" then
        headers["Content-Type"] = "application/json"
        return wrk.format("POST", "/api/v1/tasks/" .. math.random(tasks) .. "/move", headers,
            '{"bucket_id":' .. bucket .. ',"after_id":' .. math.random(tasks) .. '}')
    elseif mode == "relate" then
        headers["Content-Type"] = "application/json"
        return wrk.format("POST", "/api/v1/tasks/" .. math.random(tasks) .. "/relations", headers,
            '{"kind":"blocks","task_id":' .. math.random(tasks) .. '}')
    elseif mode == "field" then
        return wrk.format("GET", "/api/v1/tasks?project_id=" .. project .. "&field." .. room .. "=" .. rooms[math.random(4)]
            .. "&page=" .. math.random(math.floor(pages / 4)), headers)
    elseif mode == "range" then
        return wrk.format("GET", "/api/v1/tasks?project_id=" .. project .. "&field." .. points .. "%3E=" .. math.random(0, 99), headers)
    end
    if writes > 0 and n % writes == 0 then
        headers["Content-Type"] = "application/json"
        return wrk.format("POST", "/api/v1/tasks", headers, '{"title":"New","project_id":' .. project .. '}')
    end
    return wrk.format("GET", "/api/v1/tasks?project_id=" .. project .. "&page=" .. math.random(pages), headers)
end
LUA

run() { # $1 name, $2 one write in how many requests (0: none), $3 the request kind (lists when absent), $4 connections
    pin_postgres 1
    local conns=${4:-16}
    TOKENS="$OUT/project-tokens" PROJECT=$project PAGES=$pages WRITES=$2 MODE=${3:-list} TASKS=$TASKS \
        BUCKET=$bucket ROOM=$room POINTS=$points \
        taskset -c 0 wrk -t1 -c"$conns" -d"$DURATION" --latency -s "$OUT/project.lua" "$BASE" > "$OUT/project-$1.txt"
    local rps p50 p99 refused
    rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/project-$1.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$OUT/project-$1.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$OUT/project-$1.txt")
    refused=$(awk '/Non-2xx/ {print $4}' "$OUT/project-$1.txt")
    echo "| $1 | $conns | $rps | $p50 | $p99 | ${refused:-0} |" | tee -a "$OUT/project.md"
}

{
    echo "# A project of $TASKS tasks, $MEMBERS members (PostgreSQL, server on CPU 1, wrk on CPU 0, $DURATION each)"
    echo
    echo "| run | connections | req/s | p50 | p99 | non-2xx |"
    echo "|---|---:|---:|---:|---:|---:|"
} > "$OUT/project.md"
run reads 0
run mixed 10
for conns in 1 16; do
    run bucket 0 bucket "$conns"
    run field 0 field "$conns"
    run range 0 range "$conns"
    run move 0 move "$conns"
    run relate 0 relate "$conns"
done
psql -qtA "$DB_URL" -c "SELECT 'relations stored: ' || count(*) FROM task_relations" | tee -a "$OUT/project.md"
