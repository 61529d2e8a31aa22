#!/usr/bin/env bash
# make bench: the release binary on SQLite, then on PostgreSQL; 10,000 tasks over 10 users seeded
# through the API; five scenarios driven by wrk at 64 keep-alive connections for 10 s each.
# Figures are printed as a table and kept in target/bench/results.md (raw wrk output beside it).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${BENCH_CONNECTIONS:-64}
DURATION=${BENCH_DURATION:-10s}
PORT=${BENCH_PORT:-18188}
PG_ADMIN_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
OUT=target/bench
BASE=http://127.0.0.1:$PORT
export BENCH_DIR="$PWD/scripts/bench"
mkdir -p "$OUT"

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else echo "make bench needs wrk: sudo apt-get install wrk" >&2; exit 1; fi
fi

echo "== building the release binary"
cargo build --release -q -p workbench-app --bin workbench
BIN=target/release/workbench

server_pid=
stop_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=; fi; }
trap stop_server EXIT

json_field() { sed -E "s/.*\"$1\":\"?([^\",}]*)\"?.*/\1/"; }

start_server() { # $1 engine, $2 database url
    DATABASE_URL="$2" PORT=$PORT BCRYPT_COST=4 JWT_SECRET=bench-secret-bench-secret-bench-secret \
        LOG_FORMAT=json RUST_LOG=${BENCH_LOG:-info} "$BIN" serve > "$OUT/server-$1.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && return 0; sleep 0.1; done
    echo "the server did not start; see $OUT/server-$1.log" >&2; exit 1
}

seed() { # 10 users x 1,000 tasks, created user by user so each user's ids are contiguous
    local engine=$1
    for u in $(seq 1 10); do
        curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
            -d "{\"username\":\"bench$u\",\"email\":\"bench$u@example.com\",\"password\":\"bench-password\"}" >/dev/null
        local token
        token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
            -d "{\"email\":\"bench$u@example.com\",\"password\":\"bench-password\"}" | json_field access_token)
        [ "$u" = 1 ] && echo "$token" > "$OUT/token"
        local statuses=(pending pending in_progress completed)
        local priorities=(low medium high)
        local plan="$OUT/seed-$engine.txt"
        : > "$plan"
        local dues=()
        for d in $(seq 0 59); do dues+=("$(date -u -d "$((d - 30)) days" +%Y-%m-%dT12:00:00Z)"); done
        for i in $(seq 1 1000); do
            echo "$i ${statuses[$((i % 4))]} ${priorities[$((i % 3))]} ${dues[$((i % 60))]} $((i % 15))" >> "$plan"
        done
        local failed
        # shellcheck disable=SC2016 # expanded by the inner shell
        failed=$(xargs -P 16 -L 1 sh -c 'curl -s -o /dev/null -w "%{http_code}\n" "$0/api/v1/tasks" \
                -H "Authorization: Bearer $1" -H "Content-Type: application/json" \
                -d "{\"title\":\"Task $2 of user '"$u"'\",\"description\":\"Seeded for the benchmark\",\"status\":\"$3\",\"priority\":\"$4\",\"due_date\":\"$5\",\"tags\":[\"t$6\",\"seed\"]}"' \
                "$BASE" "$token" < "$plan" | grep -vc '^201$' || true)
        [ "$failed" = 0 ] || { echo "seeding user $u: $failed creates failed" >&2; exit 1; }
    done
}

results="$OUT/results.md"
{
    echo "| engine | scenario | req/s | p50 ms | p95 ms | p99 ms | non-2xx |"
    echo "|---|---|---:|---:|---:|---:|---:|"
} > "$results"

run_engine() { # $1 engine, $2 database url
    local engine=$1
    echo "== $engine: starting and seeding 10,000 tasks"
    start_server "$engine" "$2"
    local started=$SECONDS
    seed "$engine"
    echo "   seeded in $((SECONDS - started)) s"
    export BENCH_TOKEN BENCH_FIRST_ID=1 BENCH_LAST_ID=1000
    BENCH_TOKEN=$(cat "$OUT/token")
    local pending
    pending=$(curl -sf "$BASE/api/v1/tasks?status=pending&per_page=20" -H "Authorization: Bearer $BENCH_TOKEN" \
        | sed -E 's/.*"pages":([0-9]+).*/\1/')
    export BENCH_PAGES=$pending
    for scenario in get_task list_tasks create_task update_task login; do
        local label
        case $scenario in
            get_task) label='GET /tasks/{id}' ;;
            list_tasks) label='GET /tasks?status=pending&per_page=20&page=N' ;;
            create_task) label='POST /tasks' ;;
            update_task) label='PATCH /tasks/{id}' ;;
            login) label='POST /auth/login (bcrypt cost 4)' ;;
        esac
        wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s "scripts/bench/$scenario.lua" "$BASE" > "$OUT/$engine-$scenario.txt"
        local line
        line=$(grep '^RESULT' "$OUT/$engine-$scenario.txt")
        val() { echo "$line" | sed -E "s/.*$1=([0-9.]+).*/\1/"; }
        printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' "$engine" "$label" \
            "$(val rps)" "$(val p50_ms)" "$(val p95_ms)" "$(val p99_ms)" "$(val non2xx)" | tee -a "$results"
    done
    stop_server
}

sqlite_dir=$(mktemp -d)
run_engine sqlite "$sqlite_dir/workbench.db"
rm -rf "$sqlite_dir"

if psql "$PG_ADMIN_URL" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    db=workbench_bench
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    run_engine postgres "${PG_ADMIN_URL%/*}/$db"
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
else
    echo "*** PostgreSQL is not reachable at $PG_ADMIN_URL: its rows are missing ***" | tee -a "$results"
fi

echo
echo "== results (kept in $results)"
cat "$results"
