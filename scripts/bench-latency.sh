#!/usr/bin/env bash
# make bench-latency: the same fixed rate of the shared harness's `mixed` scenario offered to
# Workbench, Go/Gin and Express in turn, latency counted from when each request was due
# (tools/rateload: no coordinated omission), p50/p99/p99.9 side by side.
#
# ../shared/bench/compare.sh runs a closed loop (wrk): each server is measured at the load it
# can take, so a server twice as fast is also asked twice as much and its tail is the tail of a
# longer queue. Here every server gets the same requests per second, the way users arrive.
#
# Workbench runs with its rate limits off (the peers have none), as in every bench here.
#
# Environment: RATE (1000 req/s), DURATION (30 s measured), WARMUP (5 s), CONNECTIONS (64),
#   TASKS (1000 seeded), PEERS ("rust go-gin express-cluster"), RUST_BIN (target/release/workbench,
#   built unless BENCH_SKIP_BUILD), PIN=split (default: server and PostgreSQL on CPU 1.., the load
#   on CPU 0, as compare.sh) or none. Peers come from ../shared/peers (../shared/bench/setup.sh).
# Figures: target/bench/latency-<UTC time>/ (one JSON per peer, table.md, server logs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS_DIR="$(cd ../shared/peers 2>/dev/null && pwd)" || { echo "make bench-latency needs ../shared/peers (../shared/bench/setup.sh)" >&2; exit 1; }

RATE=${RATE:-1000}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-64}
TASKS=${TASKS:-1000}
PEERS=${PEERS:-rust go-gin express-cluster}
RUST_BIN=${RUST_BIN:-$ROOT/target/release/workbench}
NCPU=$(nproc --all)
if [[ "${PIN:-split}" == split && "$NCPU" -ge 2 ]]; then
    LOAD_CPUS=0; SERVER_CPUS="1-$((NCPU - 1))"; [[ "$SERVER_CPUS" == 1-1 ]] && SERVER_CPUS=1
else
    LOAD_CPUS=""; SERVER_CPUS=""
fi

export JWT_SECRET="${JWT_SECRET:-bench-only-secret-not-for-production-0123456789}"
export BCRYPT_COST="${BCRYPT_COST:-10}" POOL_SIZE="${POOL_SIZE:-16}" HOST=127.0.0.1
export PGPASSWORD=bench
DB_BASE="postgres://bench:bench@127.0.0.1:${PGPORT:-5432}"
psql "$DB_BASE/postgres" -qtAc 'SELECT 1' >/dev/null 2>&1 ||
    { echo "PostgreSQL is not reachable as bench:bench; run ../shared/bench/setup.sh" >&2; exit 1; }

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    cargo build --release -q -p workbench-app --bin workbench
fi
cargo build --release -q -p workbench-rateload
RATELOAD=$ROOT/target/release/rateload

RUN=$ROOT/target/bench/latency-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN"

pg_master=$(head -1 "$(cd /tmp && runuser -u postgres -- psql -qtAc 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)
pin_postgres() { # the postmaster and its current backends (new ones inherit it)
    [[ -n "$pg_master" && -n "$SERVER_CPUS" ]] || return 0
    local p
    for p in "$pg_master" $(pgrep -P "$pg_master" || true); do taskset -a -cp "$1" "$p" >/dev/null 2>&1 || true; done
}

server_pid=""
stop_server() {
    [[ -n "$server_pid" ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
trap 'stop_server; pin_postgres "0-$((NCPU - 1))"' EXIT
pin_postgres "$SERVER_CPUS"

wait_up() { # URL: until it answers at all, at most 60 s
    for _ in $(seq 600); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" != 000 ]] && return 0
        sleep 0.1
    done
    return 1
}

run_peer() {
    local peer=$1 port dir db
    case "$peer" in
        rust)
            port=3003; db=bench_rust; dir=$(dirname "$RUST_BIN")
            "$PEERS_DIR/db.sh" empty "$db" >/dev/null
            (cd "$dir" && PORT=$port DATABASE_URL="$DB_BASE/$db" RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_AUTH_PER_MINUTE=0 exec taskset -c "${SERVER_CPUS:-0-$((NCPU - 1))}" "$RUST_BIN") >"$RUN/$peer.log" 2>&1 & ;;
        go-gin)
            port=3002; db=bench_go; dir=$PEERS_DIR/go-gin
            [[ -x "$dir/peer-go-gin" ]] || { echo "skip go-gin: not built (../shared/bench/setup.sh)" >&2; return 0; }
            "$PEERS_DIR/db.sh" recreate "$db" >/dev/null
            (cd "$dir" && PORT=$port DATABASE_URL="$DB_BASE/$db?sslmode=disable" exec taskset -c "${SERVER_CPUS:-0-$((NCPU - 1))}" ./peer-go-gin) >"$RUN/$peer.log" 2>&1 & ;;
        express-cluster|express-single)
            port=3001; db=bench_express; dir=$PEERS_DIR/express
            [[ -d "$dir/node_modules" ]] || { echo "skip $peer: npm ci not run (../shared/bench/setup.sh)" >&2; return 0; }
            "$PEERS_DIR/db.sh" recreate "$db" >/dev/null
            local workers=1; [[ "$peer" == express-cluster ]] && workers=$NCPU
            (cd "$dir" && PORT=$port DATABASE_URL="$DB_BASE/$db" WORKERS=$workers exec taskset -c "${SERVER_CPUS:-0-$((NCPU - 1))}" node server.js) >"$RUN/$peer.log" 2>&1 & ;;
        *) echo "unknown peer $peer" >&2; return 1 ;;
    esac
    server_pid=$!
    if ! wait_up "http://127.0.0.1:$port/health"; then
        echo "skip $peer: did not come up; see $RUN/$peer.log" >&2; stop_server; return 0
    fi
    pin_postgres "$SERVER_CPUS"
    echo "=== $peer: $RATE req/s of mixed for ${DURATION} s (after ${WARMUP} s), $CONNECTIONS connections, $TASKS tasks"
    local load=("$RATELOAD" --base "http://127.0.0.1:$port" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP"
        --connections "$CONNECTIONS" --tasks "$TASKS" --label "$peer")
    if [[ -n "$LOAD_CPUS" ]]; then load=(taskset -c "$LOAD_CPUS" "${load[@]}"); fi
    "${load[@]}" >"$RUN/$peer.json" 2>"$RUN/$peer.rateload.log" || { tail -5 "$RUN/$peer.rateload.log" >&2; }
    tail -1 "$RUN/$peer.rateload.log"
    stop_server
    sleep 2
}

for peer in $PEERS; do run_peer "$peer"; done

{
    echo "| peer | offered req/s | answered req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for f in "$RUN"/*.json; do
        [[ -s "$f" ]] || continue
        jq -r '"| \(.label) | \(.offered_rps) | \(.achieved_rps | floor) | \(.latency.p50_ms) | \(.latency.p90_ms) | \(.latency.p99_ms) | \(.latency.p999_ms) | \(.latency.max_ms) | \(.errors) |"' "$f"
    done
    echo
    echo "$RATE req/s of \`mixed\` ($TASKS tasks, $CONNECTIONS connections, ${DURATION} s after ${WARMUP} s), server and PostgreSQL on CPUs ${SERVER_CPUS:-any}, load on ${LOAD_CPUS:-any}; latency from when each request was due ($(date -u +%Y-%m-%d))."
} >"$RUN/table.md"
echo
cat "$RUN/table.md"
echo "figures: $RUN"
