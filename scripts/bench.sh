#!/usr/bin/env bash
# make bench: the release binary on SQLite, then on PostgreSQL; 10,000 tasks over 10 users seeded
# through the API; the scenarios of ../shared/bench/compare.sh (health, a task, a page of tasks,
# create, patch, login) plus a filtered page and the task read at 1,000 connections, driven by wrk
# at 64 keep-alive connections for 10 s each. Figures are printed as a table and kept in
# target/bench/results.md (raw wrk output beside it). BENCH_SCENARIOS picks a subset. Then, on a
# fresh database of each engine, GET /search over 100,000 tasks, 10,000 users and 10,000 products
# (BENCH_SEARCH=0 skips it; BENCH_ONLY_SEARCH=1 runs only it).
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
    # One client hammering from one address: limits off unless BENCH_RATE_LIMIT asks for them.
    DATABASE_URL="$2" PORT=$PORT BCRYPT_COST=4 JWT_SECRET=bench-secret-bench-secret-bench-secret \
        RATE_LIMIT_PER_MINUTE=${BENCH_RATE_LIMIT:-0} RATE_LIMIT_AUTH_PER_MINUTE=${BENCH_RATE_LIMIT:-0} \
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
    echo "| engine | scenario | req/s | p50 ms | p95 ms | p99 ms | non-2xx | bytes/response |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
} > "$results"

run_engine() { # $1 engine, $2 database url
    local engine=$1
    echo "== $engine: starting and seeding 10,000 tasks"
    start_server "$engine" "$2"
    # The demo catalogue and a demo user owning products, for the products scenarios.
    DATABASE_URL="$2" "$BIN" seed --demo > "$OUT/seed-demo-$engine.log" 2>&1
    local started=$SECONDS
    seed "$engine"
    echo "   seeded in $((SECONDS - started)) s"
    export BENCH_TOKEN BENCH_FIRST_ID BENCH_LAST_ID
    BENCH_TOKEN=$(cat "$OUT/token")
    # The first user's 1,000 tasks have contiguous ids (created while no one else wrote), but not
    # from 1: the demo seed's tasks come first. Their newest page holds the highest id.
    BENCH_LAST_ID=$(curl -sf "$BASE/api/v1/tasks?per_page=100" -H "Authorization: Bearer $BENCH_TOKEN" \
        | grep -oE '"id":[0-9]+' | cut -d: -f2 | sort -n | tail -n 1)
    BENCH_FIRST_ID=$((BENCH_LAST_ID - 999))
    local pending
    pending=$(curl -sf "$BASE/api/v1/tasks?status=pending&per_page=20" -H "Authorization: Bearer $BENCH_TOKEN" \
        | sed -E 's/.*"pages":([0-9]+).*/\1/')
    export BENCH_PAGES=$pending BENCH_ALL_PAGES=50
    local demo_token
    demo_token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"email":"demo@example.com","password":"demo-password-123"}' | json_field access_token)
    for scenario in ${BENCH_SCENARIOS:-health get_task get_task_1000 list_all list_tasks list_big list_big_gzip list_big_browser create_task update_task product_search user_products login}; do
        local label script=$scenario connections=$CONNECTIONS encoding= token=$BENCH_TOKEN
        case $scenario in
            health) label='GET /health' ;;
            get_task) label='GET /tasks/{id}' ;;
            get_task_1000) label='GET /tasks/{id}, 1,000 connections'; script=get_task; connections=1000 ;;
            list_all) label='GET /tasks?per_page=20&page=N' ;;
            list_tasks) label='GET /tasks?status=pending&per_page=20&page=N' ;;
            list_big) label='GET /tasks?per_page=100&page=N, uncompressed' ;;
            list_big_gzip) label='GET /tasks?per_page=100&page=N, gzip'; script=list_big; encoding=gzip ;;
            list_big_browser) label='GET /tasks?per_page=100&page=N, as a browser asks (zstd)'; script=list_big; encoding='gzip, deflate, br, zstd' ;;
            create_task) label='POST /tasks' ;;
            update_task) label='PATCH /tasks/{id}' ;;
            product_search) label='GET /products/search?q=' ;;
            user_products) label='GET /user-products'; token=$demo_token ;;
            login) label='POST /auth/login (bcrypt cost 4)' ;;
            *) echo "unknown scenario $scenario" >&2; exit 2 ;;
        esac
        BENCH_TOKEN=$token BENCH_ENCODING=$encoding wrk -t2 -c"$connections" -d"$DURATION" -s "scripts/bench/$script.lua" "$BASE" \
            > "$OUT/$engine-$scenario.txt"
        local line
        line=$(grep '^RESULT' "$OUT/$engine-$scenario.txt")
        val() { echo "$line" | sed -E "s/.*$1=([0-9.]+).*/\1/"; }
        printf '| %s | `%s` | %s | %s | %s | %s | %s | %s |\n' "$engine" "$label" \
            "$(val rps)" "$(val p50_ms)" "$(val p95_ms)" "$(val p99_ms)" "$(val non2xx)" "$(val bytes)" | tee -a "$results"
    done
    stop_server
}

run_scenario() { # $1 engine, $2 label, $3 script, $4 token, $5 connections
    BENCH_TOKEN=$4 wrk -t2 -c"$5" -d"$DURATION" -s "scripts/bench/$3.lua" "$BASE" > "$OUT/$1-$3-$5.txt"
    local line
    line=$(grep '^RESULT' "$OUT/$1-$3-$5.txt")
    val() { echo "$line" | sed -E "s/.*$1=([0-9.]+).*/\1/"; }
    printf '| %s | `%s` | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" \
        "$(val rps)" "$(val p50_ms)" "$(val p95_ms)" "$(val p99_ms)" "$(val non2xx)" "$(val bytes)" | tee -a "$results"
}

run_search() { # $1 engine, $2 database url; a fresh database with 100,000 tasks (bulk-seed.sh)
    local engine=$1 url=$2
    echo "== $engine: search over 100,000 tasks, 10,000 users and 10,000 products"
    DATABASE_URL="$url" "$BIN" migrate > "$OUT/search-migrate-$engine.log" 2>&1
    scripts/bench/bulk-seed.sh "$engine" "$url"
    echo 'bench-admin-password' | DATABASE_URL="$url" BCRYPT_COST=4 "$BIN" admin create-user \
        --username bench-admin --email bench-admin@example.com --role admin > /dev/null 2>&1
    start_server "$engine-search" "$url"
    curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
        -d '{"username":"searcher","email":"searcher@example.com","password":"bench-password"}' > /dev/null
    # The searcher owns 1,000 of the tasks, as a busy user would.
    local own="UPDATE tasks SET owner_id = (SELECT id FROM users WHERE username = 'searcher') WHERE id % 100 = 0"
    case $engine in
        postgres) psql -q "$url" -c "$own" ;;
        sqlite) python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1], timeout=30); db.execute(sys.argv[2]); db.commit()' "$url" "$own" ;;
    esac
    local user_token admin_token
    user_token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"email":"searcher@example.com","password":"bench-password"}' | json_field access_token)
    admin_token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"email":"bench-admin@example.com","password":"bench-admin-password"}' | json_field access_token)
    # At the benchmark's 64 connections and at 8, closer to how many people search at once.
    for connections in $CONNECTIONS ${BENCH_SEARCH_CONNECTIONS:-8}; do
        run_scenario "$engine" "GET /search?q= (a user: their 1,000 tasks), $connections connections" \
            search "$user_token" "$connections"
        run_scenario "$engine" "GET /search?q= (an admin: all 100,000 tasks), $connections connections" \
            search "$admin_token" "$connections"
    done
    stop_server
}

sqlite_dir=$(mktemp -d)
[ -n "${BENCH_ONLY_SEARCH:-}" ] || run_engine sqlite "$sqlite_dir/workbench.db"
[ "${BENCH_SEARCH:-1}" = 0 ] || run_search sqlite "$sqlite_dir/search.db"
rm -rf "$sqlite_dir"

if psql "$PG_ADMIN_URL" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    db=workbench_bench
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    [ -n "${BENCH_ONLY_SEARCH:-}" ] || run_engine postgres "${PG_ADMIN_URL%/*}/$db"
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    [ "${BENCH_SEARCH:-1}" = 0 ] || run_search postgres "${PG_ADMIN_URL%/*}/$db"
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
else
    echo "*** PostgreSQL is not reachable at $PG_ADMIN_URL: its rows are missing ***" | tee -a "$results"
fi

echo
echo "== results (kept in $results)"
cat "$results"
