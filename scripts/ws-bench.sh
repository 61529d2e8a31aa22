#!/usr/bin/env bash
# WebSocket load on /api/v1/ws: the release server on PostgreSQL (a fresh database `wsbench`),
# driven by tools/wsload, pinned like ../shared/bench/compare.sh (server and PostgreSQL on CPU 0,
# the load on CPU 1). Scenarios, each on a freshly started server:
#   hold   HOLD_CONNECTIONS (19,000) idle authenticated sockets for HOLD_SECS (40; one 25 s ping
#          period and more): errors, disconnects, server RSS per socket (the Socket.IO anchor's way)
#   dm     LOAD_CONNECTIONS (10,000) connected, LOAD_RATE (5,000)/s direct messages for LOAD_SECS
#   tasks  the same, tasks created over HTTP with another connected user as assignee
#   slow   the dm load twice: as a baseline, then with one client that never reads and is sent
#          SLOW_DM_RATE (500)/s messages: is it dropped (4008), and the others' p99 meanwhile
#   room   one message to a room of ROOM_MEMBERS (5,000), repeated ROOM_REPEATS (5) times
#   floor  the same fan-out with no server (wsload writes one frame to ROOM_MEMBERS loopback
#          connections from a thread on the server's CPU): what the kernel and the client cost
#          here, in the same window, for the room's figures to be read against
#   sio-room (not in the default list) the room on Socket.IO 4.8.4 (scripts/bench/sio-room.js):
#          ROOM_MEMBERS clients join a room, the server emits one message to it, pinned as the
#          room is; installs socket.io where ../shared/anchors/sio-run.sh does (SIO_SCR)
#   hold2  HOLD2_CONNECTIONS (20,000) idle sockets over two instances sharing PostgreSQL and
#          Redis (WSBENCH_REDIS_URL), half on each: one process may hold 20,000 descriptors here,
#          so 20,000 sockets need two servers; each half reads its own server's memory
# Results: target/ws-bench/run-<UTC time>/ (results.jsonl, one wsload-<scenario>.log and
# server-<scenario>.log each, summary.md); target/ws-bench/latest points at the last run.
#
# Environment (defaults in brackets):
#   SCENARIOS ["hold dm tasks slow room floor hold2"]   WSBENCH_PROFILE [release] (debug: quicker to build, for a smoke run)
#   HOLD_CONNECTIONS [19000] HOLD_SECS [40] HOLD_PROCS [0: one client process per 9,500 sockets]
#   HOLD2_CONNECTIONS [20000] HOLD2_SECS [60] WSBENCH_REDIS_URL [redis://127.0.0.1:6379]
#   LOAD_CONNECTIONS [10000] LOAD_RATE [5000] LOAD_SECS [20]
#   SLOW_CONNECTIONS [LOAD_CONNECTIONS] SLOW_RATE [LOAD_RATE] SLOW_SECS [LOAD_SECS] SLOW_DM_RATE [500]
#   ROOM_MEMBERS [5000] ROOM_REPEATS [5] ROOM_FIRST_USER [20000] (its own accounts: the room makes its
#     members each other's contacts, so that every later connect of theirs tells 1,000 of them)
#   WSBENCH_PORT [18190]  WSBENCH_PG_URL [postgres://postgres@127.0.0.1:5432]  WSBENCH_DB [wsbench]
#   WSBENCH_KEEP_DB=1     reuse the database (and so the cached tokens) of an earlier run
#   PIN [split] (none: nothing pinned)  SERVER_CPUS [0]  LOAD_CPUS [1]  PIN_POSTGRES [1]
#   QUIET_WAIT [0]        seconds to wait, before each scenario, for the machine to go quiet
#                         (< QUIET_MAX_CORES [0.15] busy cores over 5 s, the server idle)
#   WSBENCH_RATE_LIMIT [100000000] requests per minute, both limits (0 turns them off)
#   WSBENCH_SIO=1         then run ../shared/anchors/sio-run.sh (Socket.IO, 3 runs) in the same window
#   WSLOAD_ARGS           more options for every wsload run (e.g. "--sources 16")
#   WSBENCH_BIN           a server binary to measure instead of building this tree's (a before/after
#                         comparison runs the same load against an older build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SCENARIOS=${SCENARIOS:-"hold dm tasks slow room floor hold2"}
HOLD2_CONNECTIONS=${HOLD2_CONNECTIONS:-20000}
HOLD2_SECS=${HOLD2_SECS:-60}
REDIS_URL_BENCH=${WSBENCH_REDIS_URL:-redis://127.0.0.1:6379}
PROFILE=${WSBENCH_PROFILE:-release}
HOLD_CONNECTIONS=${HOLD_CONNECTIONS:-19000}
HOLD_SECS=${HOLD_SECS:-40}
HOLD_PROCS=${HOLD_PROCS:-0}
LOAD_CONNECTIONS=${LOAD_CONNECTIONS:-10000}
LOAD_RATE=${LOAD_RATE:-5000}
LOAD_SECS=${LOAD_SECS:-20}
SLOW_CONNECTIONS=${SLOW_CONNECTIONS:-$LOAD_CONNECTIONS}
SLOW_RATE=${SLOW_RATE:-$LOAD_RATE}
SLOW_SECS=${SLOW_SECS:-$LOAD_SECS}
SLOW_DM_RATE=${SLOW_DM_RATE:-500}
ROOM_MEMBERS=${ROOM_MEMBERS:-5000}
ROOM_REPEATS=${ROOM_REPEATS:-5}
ROOM_FIRST_USER=${ROOM_FIRST_USER:-20000}
PORT=${WSBENCH_PORT:-18190}
PG_URL=${WSBENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
DB=${WSBENCH_DB:-wsbench}
RATE_LIMIT=${WSBENCH_RATE_LIMIT:-100000000}
QUIET_WAIT=${QUIET_WAIT:-0}
QUIET_MAX_CORES=${QUIET_MAX_CORES:-0.15}
BASE=http://127.0.0.1:$PORT
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

NCPU=$(nproc --all)
PIN=${PIN:-split}
if [[ "$PIN" == split && "$NCPU" -ge 2 ]]; then
    SERVER_CPUS=${SERVER_CPUS:-0}
    LOAD_CPUS=${LOAD_CPUS:-1}
else
    PIN=none SERVER_CPUS="" LOAD_CPUS=""
fi
PIN_POSTGRES=${PIN_POSTGRES:-1}
ALL_CPUS="0-$((NCPU - 1))"

RUN="$ROOT/target/ws-bench/run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN"
ln -sfn "$RUN" "$ROOT/target/ws-bench/latest"
RESULTS="$RUN/results.jsonl"
: >"$RESULTS"
TOKENS="$ROOT/target/ws-bench/wsload-tokens.json"

# ---- build ----
profile_flag=(--release)
[[ "$PROFILE" == debug ]] && profile_flag=()
echo "== building workbench and wsload ($PROFILE; target dir $TARGET_DIR)"
# Each binary is copied the moment its build returns: when worktrees share a target directory,
# another one's build (even one with nothing to compile) re-links target/<profile>/<bin> to its
# own version, and the copy keeps ours for the whole run.
if [[ -n "${WSBENCH_BIN:-}" ]]; then
    cp "$WSBENCH_BIN" "$RUN/workbench"
else
    nice -n 10 cargo build "${profile_flag[@]}" -q -p workbench-app --bin workbench && cp "$TARGET_DIR/$PROFILE/workbench" "$RUN/workbench"
fi
nice -n 10 cargo build "${profile_flag[@]}" -q -p workbench-wsload --bin wsload && cp "$TARGET_DIR/$PROFILE/wsload" "$RUN/wsload"
BIN="$RUN/workbench"
WSLOAD="$RUN/wsload"

# Each process may hold this many descriptors; the hard limit here is 20,000 and cannot be raised.
ulimit -n "$(ulimit -Hn)"
echo "== descriptors per process: $(ulimit -n); CPUs: $NCPU; PIN=$PIN (server+PostgreSQL ${SERVER_CPUS:-any}, load ${LOAD_CPUS:-any})"

# ---- PostgreSQL ----
if ! psql "$PG_URL/postgres" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    echo "PostgreSQL is not reachable at $PG_URL/postgres" >&2
    exit 1
fi
if [[ "${WSBENCH_KEEP_DB:-0}" != 1 ]] || ! psql "$PG_URL/$DB" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    psql "$PG_URL/postgres" -qtAc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    psql "$PG_URL/postgres" -qtAc "CREATE DATABASE $DB" >/dev/null
    rm -f "$TOKENS"
    echo "== fresh database $DB"
fi
pg_master=""
if [[ "$PIN" == split && "$PIN_POSTGRES" == 1 ]]; then
    pg_data=$(psql "$PG_URL/postgres" -qtAc 'SHOW data_directory' 2>/dev/null || true)
    [[ -n "$pg_data" && -r "$pg_data/postmaster.pid" ]] && pg_master=$(head -1 "$pg_data/postmaster.pid")
fi
pin_postgres() { # CPU list: the postmaster and each current backend (new ones inherit it)
    [[ -z "$pg_master" ]] && return 0
    local p
    for p in "$pg_master" $(pgrep -P "$pg_master" || true); do taskset -a -cp "$1" "$p" >/dev/null 2>&1 || true; done
}

# ---- the server ----
DATA_DIR=$(mktemp -d /tmp/wsbench-data.XXXXXX)
server_pid=""
stop_server() {
    [[ -z "$server_pid" ]] && return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    local i
    # SHUTDOWN_TIMEOUT is 5 s; a server killed before it gives up the outbox relay's lease leaves the
    # next one without task events until the lease lapses (30 s).
    for ((i = 0; i < 200; i++)); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "   the server did not stop within 20 s of SIGTERM; killed (its outbox relay lease lapses only after 30 s)"
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
cleanup() {
    stop_server
    pin_postgres "$ALL_CPUS"
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pinned() { # CPU list, command...: the command on those CPUs (or anywhere when PIN=none)
    local cpus=$1
    shift
    if [[ -n "$cpus" ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

start_server() { # $1 log name
    if ss -Hltn "sport = :$PORT" | grep -q .; then
        echo "port $PORT is already in use by another process (WSBENCH_PORT picks another)" >&2
        exit 1
    fi
    local cmd=("$BIN" serve)
    [[ -n "$SERVER_CPUS" ]] && cmd=(taskset -c "$SERVER_CPUS" "${cmd[@]}")
    # exec, so that $! is the server itself (its memory is what hold reads).
    (
        export DATABASE_URL="$PG_URL/$DB" DATA_DIR="$DATA_DIR" PORT=$PORT BCRYPT_COST=4 \
            JWT_SECRET=ws-bench-secret-ws-bench-secret-ws-bench-secret ACCESS_TOKEN_TTL=12h \
            RATE_LIMIT_PER_MINUTE=$RATE_LIMIT RATE_LIMIT_AUTH_PER_MINUTE=$RATE_LIMIT \
            LOG_FORMAT=json RUST_LOG=${WSBENCH_LOG:-warn} SHUTDOWN_TIMEOUT=5s
        [[ -n "${SERVER_REDIS:-}" ]] && export REDIS_URL=$SERVER_REDIS REDIS_PREFIX=wsbench
        exec "${cmd[@]}"
    ) >"$RUN/server-$1.log" 2>&1 &
    server_pid=$!
    local i
    for ((i = 0; i < 300; i++)); do
        curl -sf "$BASE/health" >/dev/null 2>&1 && break
        kill -0 "$server_pid" 2>/dev/null || { echo "the server exited; see $RUN/server-$1.log" >&2; tail -20 "$RUN/server-$1.log" >&2; exit 1; }
        sleep 0.2
    done
    curl -sf "$BASE/health" >/dev/null || { echo "the server did not come up; see $RUN/server-$1.log" >&2; exit 1; }
    [[ "$PIN" == split && "$PIN_POSTGRES" == 1 ]] && pin_postgres "$SERVER_CPUS"
    return 0
}

wait_quiet() { # up to QUIET_WAIT s until fewer than QUIET_MAX_CORES cores are busy over 5 s
    ((QUIET_WAIT > 0)) || return 0
    local start a b cores
    start=$(date +%s)
    while :; do
        a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
        sleep 5
        b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
        cores=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", (b-a)/100/5}')
        awk -v c="$cores" -v m="$QUIET_MAX_CORES" 'BEGIN{exit !(c < m)}' && { echo "   quiet: $cores busy cores"; return 0; }
        if (($(date +%s) - start >= QUIET_WAIT)); then echo "   not quiet after ${QUIET_WAIT}s ($cores busy cores); going on"; return 0; fi
    done
}

# wsload SCENARIO ARGS...: one run on a fresh server; its JSON line goes to results.jsonl.
wsload() {
    local name=$1
    shift
    stop_server
    start_server "$name"
    wait_quiet
    echo
    echo "== $name: wsload $* (server pid $server_pid)"
    local rc=0
    # shellcheck disable=SC2086 # WSLOAD_ARGS is a list of options
    pinned "$LOAD_CPUS" "$WSLOAD" --url "$BASE" --tokens "$TOKENS" --server-pid "$server_pid" --out "$RESULTS" \
        ${WSLOAD_ARGS:-} "$@" 2> >(tee "$RUN/wsload-$name.log" >&2) >/dev/null || rc=$?
    if ((rc != 0)); then
        echo "   wsload $name exited $rc (2: it ran but saw errors or losses; see the table above)"
        [[ -s "$RESULTS" ]] && tail -1 "$RESULTS" | jq -e --arg s "$name" '.scenario == $s' >/dev/null ||
            echo "{\"scenario\":\"$name\",\"failed\":true,\"exit\":$rc}" >>"$RESULTS"
    fi
    kill -0 "$server_pid" 2>/dev/null || echo "   the server died during $name; see $RUN/server-$name.log"
    stop_server
}

# hold2: two servers on PORT and PORT+1 sharing the database and Redis, a wsload per server.
hold2() {
    stop_server
    local port_b=$((PORT + 1)) pid_a pid_b rc_a=0 rc_b=0
    SERVER_REDIS=$REDIS_URL_BENCH start_server hold2-a
    pid_a=$server_pid
    SERVER_REDIS=$REDIS_URL_BENCH PORT=$port_b BASE=http://127.0.0.1:$port_b start_server hold2-b
    pid_b=$server_pid
    wait_quiet
    echo
    echo "== hold2: $HOLD2_CONNECTIONS sockets over two instances (pids $pid_a on :$PORT, $pid_b on :$port_b)"
    # shellcheck disable=SC2086 # WSLOAD_ARGS is a list of options
    pinned "$LOAD_CPUS" "$WSLOAD" --url "$BASE" --tokens "$TOKENS" --server-pid "$pid_a" --shard 0/2 \
        --out "$RESULTS" ${WSLOAD_ARGS:-} hold --connections "$HOLD2_CONNECTIONS" --hold-secs "$HOLD2_SECS" \
        2>"$RUN/wsload-hold2-a.log" >/dev/null &
    local load_a=$!
    # The token cache names the server it was filled on; the tokens are as good on the second
    # (same database and secret), so its half reads a copy that names it.
    jq --arg url "http://127.0.0.1:$port_b" '.url = $url' "$TOKENS" >"$RUN/tokens-b.json"
    # shellcheck disable=SC2086
    pinned "$LOAD_CPUS" "$WSLOAD" --url "http://127.0.0.1:$port_b" --tokens "$RUN/tokens-b.json" --server-pid "$pid_b" \
        --shard 1/2 --out "$RESULTS" ${WSLOAD_ARGS:-} hold --connections "$HOLD2_CONNECTIONS" \
        --hold-secs "$HOLD2_SECS" 2>"$RUN/wsload-hold2-b.log" >/dev/null &
    local load_b=$!
    wait "$load_a" || rc_a=$?
    wait "$load_b" || rc_b=$?
    tail -n 12 "$RUN/wsload-hold2-a.log" "$RUN/wsload-hold2-b.log"
    ((rc_a == 0 && rc_b == 0)) || echo "   hold2: wsload exited $rc_a / $rc_b"
    server_pid=$pid_b
    stop_server
    server_pid=$pid_a
    stop_server
}

# floor: the room's fan-out with no server, the sender on the server's CPU, the receivers on the load's.
floor() {
    wait_quiet
    echo "== floor: wsload floor --members $ROOM_MEMBERS (no server)"
    local rc=0
    local cpu=()
    [[ -n "$SERVER_CPUS" ]] && cpu=(--sender-cpu "${SERVER_CPUS%%[,-]*}")
    # shellcheck disable=SC2086 # WSLOAD_ARGS is a list of options
    pinned "$LOAD_CPUS" "$WSLOAD" --out "$RESULTS" ${WSLOAD_ARGS:-} floor --members "$ROOM_MEMBERS" \
        --repeats "$ROOM_REPEATS" "${cpu[@]}" 2> >(tee "$RUN/wsload-floor.log" >&2) >/dev/null || rc=$?
    ((rc == 0)) || echo "   wsload floor exited $rc"
    if ((rc != 0 && rc != 2)); then
        jq -nc --arg s floor --argjson rc "$rc" '{scenario: $s, failed: true, exit: $rc}' >>"$RESULTS"
    fi
}

# sio-room: the room on Socket.IO, its server on the server's CPU and its clients on the load's.
sio_room() {
    local scr=${SIO_SCR:-/tmp/anchors-sio}
    if [[ ! -d "$scr/node_modules/socket.io" ]]; then
        mkdir -p "$scr"
        (cd "$scr" && npm init -y >/dev/null && npm install --no-audit --no-fund socket.io@4.8.4 socket.io-client@4.8.4 >/dev/null)
    fi
    wait_quiet
    echo "== sio-room: Socket.IO, $ROOM_MEMBERS members"
    local rc=0
    NODE_PATH="$scr/node_modules" node "$ROOT/scripts/bench/sio-room.js" "$ROOM_MEMBERS" "$ROOM_REPEATS" "${SERVER_CPUS%%[,-]*}" \
        "${LOAD_CPUS%%[,-]*}" 2> >(tee "$RUN/sio-room.log" >&2) >>"$RESULTS" || rc=$?
    if ((rc != 0)); then
        echo "   sio-room exited $rc"
        jq -nc --argjson rc "$rc" '{scenario: "sio-room", failed: true, exit: $rc}' >>"$RESULTS"
    fi
}

echo "== results in $RUN"
# Every account signed in first, on a server of its own, so that no scenario's server carries the
# sign-in burst (and hold's memory baseline is a server that has only started).
need=0
for s in $SCENARIOS; do
    case "$s" in
        hold) ((HOLD_CONNECTIONS > need)) && need=$HOLD_CONNECTIONS ;;
        hold2) ((HOLD2_CONNECTIONS > need)) && need=$HOLD2_CONNECTIONS ;;
        dm | tasks) ((LOAD_CONNECTIONS > need)) && need=$LOAD_CONNECTIONS ;;
        slow) ((SLOW_CONNECTIONS + 2 > need)) && need=$((SLOW_CONNECTIONS + 2)) ;;
    esac
done
start_server users
echo "== signing in accounts (wsload-0 .. wsload-$((need - 1)), and the room's from wsload-$ROOM_FIRST_USER)"
sign_in() { # first count
    # shellcheck disable=SC2086 # WSLOAD_ARGS is a list of options
    pinned "$LOAD_CPUS" "$WSLOAD" --url "$BASE" --tokens "$TOKENS" --first-user "$1" ${WSLOAD_ARGS:-} users --count "$2" \
        >/dev/null 2>>"$RUN/wsload-users.log" || { tail -20 "$RUN/wsload-users.log" >&2; exit 1; }
}
((need > 0)) && sign_in 0 "$need"
[[ " $SCENARIOS " == *" room "* ]] && sign_in "$ROOM_FIRST_USER" "$ROOM_MEMBERS"
tail -1 "$RUN/wsload-users.log"
stop_server

for s in $SCENARIOS; do
    case "$s" in
        hold) wsload hold hold --connections "$HOLD_CONNECTIONS" --hold-secs "$HOLD_SECS" --procs "$HOLD_PROCS" ;;
        dm) wsload dm dm --connections "$LOAD_CONNECTIONS" --rate "$LOAD_RATE" --secs "$LOAD_SECS" ;;
        tasks) wsload tasks tasks --connections "$LOAD_CONNECTIONS" --rate "$LOAD_RATE" --secs "$LOAD_SECS" ;;
        slow) wsload slow slow --connections "$SLOW_CONNECTIONS" --rate "$SLOW_RATE" --secs "$SLOW_SECS" --slow-rate "$SLOW_DM_RATE" ;;
        room) wsload room --first-user "$ROOM_FIRST_USER" room --members "$ROOM_MEMBERS" --repeats "$ROOM_REPEATS" ;;
        floor) floor ;;
        sio-room) sio_room ;;
        hold2) hold2 ;;
        *) echo "unknown scenario $s (hold dm tasks slow room floor sio-room hold2)" >&2; exit 1 ;;
    esac
done

# ---- summary ----
{
    echo "WebSocket load, $(date -u +%FT%TZ), $PROFILE build, PIN=$PIN (server+PostgreSQL CPUs ${SERVER_CPUS:-any}, load CPUs ${LOAD_CPUS:-any}); git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "| scenario | result |"
    echo "|---|---|"
    jq -r '
      def ms(s): if s == null or s.count == 0 then "-" else "p50 \(s.p50_ms) / p99 \(s.p99_ms) / max \(s.max_ms) ms" end;
      if .failed then "| \(.scenario) | failed (exit \(.exit)) |"
      elif .scenario == "hold" then
        "| hold | \(.connected)/\(.target) sockets for \(.hold_secs) s, \(.connect_failed) connect failures, \(.disconnects) disconnects, \(.server_pings_answered) pings answered; server RSS \((.server_rss_kb_before // 0) / 1024 | floor) → \((.server_rss_kb_after_hold // 0) / 1024 | floor) MiB = **\(.rss_per_conn_kb) KB per socket** (\(.rss_per_conn_kb_at_connect) KB at connect) |"
      elif .scenario == "dm" then
        "| dm | \(.connected) connected, \(.achieved_rate)/s of \(.rate)/s, sent \(.sent), lost \(.lost), disconnects \(.disconnects); store → recipient **\(ms(.store_to_recipient))**; send → recipient \(ms(.send_to_recipient)) |"
      elif .scenario == "tasks" then
        "| tasks | \(.connected) connected, \(.achieved_rate)/s created of \(.rate)/s asked (HTTP \(.http_statuses | tostring)); store → owner **\(ms(.store_to_owner))**, → assignee **\(ms(.store_to_assignee))**; lost \(.owner_events_lost)/\(.assignee_events_lost); POST \(ms(.http_create)) |"
      elif .scenario == "slow" then
        "| slow | slow client: \(.slow.end) after \(.slow.dms_sent_to_it) DMs (offline seen after \(.slow.presence_offline_after_ms // "-") ms); others p99 \(.p99_ms_baseline) ms baseline vs **\(.p99_ms_with_slow) ms** with it; lost \(.baseline.lost) / \(.with_slow.lost)\(if .valid == false then "; **not valid: a client that was reading was dropped**" else "" end) |"
      elif .scenario == "room" then
        "| room | \(.connected) members, joins in \(.join_secs) s; last member after **\(.last_after_send_ms | map(tostring) | join(", ")) ms** from send (from store: \([.rounds[].last_after_store_ms] | map(tostring) | join(", ")) ms); \(.presence_events) presence events; disconnects \(.disconnects) \(.ends | tostring) |"
      elif .scenario == "floor" then
        "| floor | no server: one frame written to \(.members) loopback connections from CPU \(.sender_cpu // "any"); last connection after **\(.last_after_send_ms | map(tostring) | join(", ")) ms** (the writes alone: \([.rounds[].writes_ms] | map(tostring) | join(", ")) ms); disconnects \(.disconnects) |"
      elif .scenario == "sio-room" then
        "| sio-room | Socket.IO \(.socketio), \(.connected) members; last member after **\(.last_after_emit_ms | map(tostring) | join(", ")) ms** from the emit (server side) |"
      else "| \(.scenario) | \(tostring) |" end
    ' "$RESULTS"
} | tee "$RUN/summary.md"

if [[ "${WSBENCH_SIO:-0}" == 1 ]]; then
    echo
    echo "== Socket.IO anchor (../shared/anchors/sio-run.sh), same window"
    bash "$ROOT/../shared/anchors/sio-run.sh" 2>&1 | tee "$RUN/sio.log" | tail -15
fi
echo
echo "results: $RUN"
