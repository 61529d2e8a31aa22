#!/usr/bin/env bash
# Services by route group behind the real gateway, on loopback: three API roles and a worker
# (one binary) on one fresh PostgreSQL database and one Redis, nginx in front with
# deploy/gateway/{nginx,routes}.conf and upstreams for this topology, then a user's walk through
# the gateway: register, sign in, profile, a task, an attachment, an upload and its download,
# search, the catalogue, and a chat room; then a radio station served by two instances (the edge
# role and a radio role): ffmpeg streams to the edge's source listener, listeners tune in through
# the gateway on both instances, and the station counts them all.
#
#   WORKBENCH_BIN      the binary (default: target/debug/workbench, built when missing or stale)
#   TEST_DATABASE_URL  a PostgreSQL server where a database may be created (default local)
#   TEST_REDIS_URL     Redis (default redis://127.0.0.1:6379; keys under a prefix of their own)
#   GATEWAY_PORT       the gateway's port (default 18380; the roles take the next four)
#   KEEP=1             leave everything running (prints how to stop it)
# Unreachable PostgreSQL or Redis skip the test, or fail it when CI=true.
. "$(dirname "$0")/deploy/lib.sh"
cd "$ROOT"

PG_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
GW_PORT=${GATEWAY_PORT:-18380}
P_AUTH=$((GW_PORT + 1)) P_CORE=$((GW_PORT + 2)) P_EDGE=$((GW_PORT + 3)) P_WORKER=$((GW_PORT + 4))
P_RADIO=$((GW_PORT + 5)) SRC_EDGE=$((GW_PORT + 6)) SRC_RADIO=$((GW_PORT + 7))
GW=http://127.0.0.1:$GW_PORT

skip() {
    if [ "${CI:-}" = true ]; then echo "gateway-test: $*" >&2; exit 1; fi
    echo "gateway-test: SKIPPED: $*" >&2
    exit 0
}
pg_isready -q -d "$PG_URL" 2>/dev/null || skip "PostgreSQL at $PG_URL is not reachable"
redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || skip "Redis at $REDIS_URL is not reachable"
step "apt: nginx" ensure_apt nginx

BIN=${WORKBENCH_BIN:-target/debug/workbench}
if [ -z "${WORKBENCH_BIN:-}" ]; then
    step "cargo build (debug)" $NICE cargo build -q -p workbench-app --bin workbench
fi

D=$(mktemp -d /tmp/wb-gateway.XXXXXX)
chmod 755 "$D"  # nginx runs as nobody
mkdir -p "$D/gw/tmp" "$D/data" "$D/pids"
NAME=wb_gw_$(date +%s)_$$
DB_URL="${PG_URL%/*}/$NAME"
psql -q -d "$PG_URL" -c "CREATE DATABASE $NAME" >/dev/null

stop_all() {
    local f
    # `|| true`: a process that already exited makes kill fail, and errexit would end the trap there.
    for f in "$D"/pids/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    sleep 0.5
    for f in "$D"/pids/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; done
    psql -q -d "$PG_URL" -c "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null 2>&1 || true
    redis-cli -u "$REDIS_URL" --scan --pattern "$NAME:*" 2>/dev/null | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
    rm -rf "$D"
}
if [ -z "${KEEP:-}" ]; then
    trap stop_all EXIT
else
    trap 'echo "kept: $D (stop: kill \$(cat $D/pids/*.pid); drop database $NAME)"' EXIT
fi

# What every role shares: one database, one Redis prefix, one signing secret, one public URL (the
# tokens' issuer), one data directory (uploads), and the gateway as the trusted proxy.
export DATABASE_URL=$DB_URL REDIS_URL REDIS_PREFIX=$NAME DATA_DIR=$D/data PUBLIC_URL=$GW \
    JWT_SECRET=gateway-test-secret-of-at-least-32-bytes WORKBENCH_ENV=production TRUSTED_PROXIES=127.0.0.1/32 \
    BCRYPT_COST=4 LOG_FORMAT=json WORKERS=1 DATABASE_POOL_SIZE=4 BIND_ADDR=127.0.0.1:0
step "workbench migrate" "$BIN" migrate >"$D/migrate.log" 2>&1

start_role() {  # NAME PORT ARGS... (the environment above, plus any VAR=value given first)
    local name=$1 port=$2
    shift 2
    env PORT="$port" "$@" >"$D/$name.log" 2>&1 &
    echo $! >"$D/pids/$name.pid"
}
# API roles run no jobs (JOB_WORKERS=0); the worker runs them.
start_role identity "$P_AUTH" JOB_WORKERS=0 "$BIN" serve --routes auth,users
start_role core "$P_CORE" JOB_WORKERS=0 WORKBENCH_ROUTES=tasks,search,admin "$BIN" serve
start_role edge "$P_EDGE" JOB_WORKERS=0 RADIO_SOURCE_ADDR=127.0.0.1:$SRC_EDGE \
    "$BIN" serve --routes files,projects,trades,products,integrations,webhooks,realtime,radio
start_role radio "$P_RADIO" JOB_WORKERS=0 RADIO_SOURCE_ADDR=127.0.0.1:$SRC_RADIO "$BIN" serve --routes radio
start_role worker "$P_WORKER" "$BIN" worker
for p in "$P_AUTH" "$P_CORE" "$P_EDGE" "$P_RADIO" "$P_WORKER"; do
    wait_http "http://127.0.0.1:$p/ready" 150 || { tail -n 5 "$D"/*.log; exit 1; }
done

# The gateway: deploy/gateway's configuration with this run's paths and ports.
{
    up() { printf 'upstream %s { server 127.0.0.1:%s max_fails=1 fail_timeout=2s; keepalive 8; }\n' "$1" "$2"; }
    up auth "$P_AUTH"; up users "$P_AUTH"
    up tasks "$P_CORE"; up search "$P_CORE"; up admin "$P_CORE"
    for g in products files projects trades integrations webhooks realtime; do up "$g" "$P_EDGE"; done
    # Two instances of the radio group, taken in turn.
    printf 'upstream radio { server 127.0.0.1:%s; server 127.0.0.1:%s; keepalive 8; }\n' "$P_EDGE" "$P_RADIO"
} >"$D/gw/upstreams.conf"
cp deploy/gateway/routes.conf "$D/gw/routes.conf"
sed -e "s#listen 8080;#listen 127.0.0.1:$GW_PORT;#" -e "s#/etc/nginx/workbench/#$D/gw/#g" \
    -e "s#/tmp/nginx#$D/gw/tmp/nginx#g" -e "s#error_log stderr#error_log $D/gw/error.log#" \
    -e "s#access_log /dev/stdout#access_log $D/gw/access.log#" -e "s#^worker_processes .*#worker_processes 1;#" \
    deploy/gateway/nginx.conf >"$D/gw/nginx.conf"
chown -R nobody:nogroup "$D/gw"
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
step "nginx -t" $AS_NOBODY nginx -q -p "$D/gw" -c "$D/gw/nginx.conf" -e "$D/gw/error.log" -t
$AS_NOBODY nginx -p "$D/gw" -c "$D/gw/nginx.conf" -e "$D/gw/error.log" -g 'daemon off;' &
echo $! >"$D/pids/nginx.pid"
wait_http "$GW/gateway/health"

# The walk. `call METHOD PATH EXPECTED [curl args...]` prints the body and checks the status.
TOKEN=
call() {
    local method=$1 path=$2 expected=$3 status
    shift 3
    local auth=()
    [ -z "$TOKEN" ] || auth=(-H "Authorization: Bearer $TOKEN")
    status=$(curl -sS -m 10 -o "$D/body" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$GW$path")
    if [ "$status" != "$expected" ]; then
        echo "FAIL: $method $path answered $status, expected $expected: $(head -c 400 "$D/body")" >&2
        return 1
    fi
    printf '  %-6s %-40s %s\n' "$method" "$path" "$status" >&2
    cat "$D/body"
}
json() { jq -r "$1" "$D/body"; }
walk() {
    local user=walker$$ id file
    call POST /api/v1/auth/register 201 -H 'Content-Type: application/json' \
        -d "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"correct horse battery\"}" >/dev/null
    call POST /api/v1/auth/login 200 -H 'Content-Type: application/json' \
        -d "{\"email\":\"$user@example.com\",\"password\":\"correct horse battery\"}" >/dev/null
    TOKEN=$(json .access_token)
    call GET /api/v1/users/me 200 >/dev/null
    [ "$(json .username)" = "$user" ]
    call POST /api/v1/tasks 201 -H 'Content-Type: application/json' -d '{"title":"Ship the gateway"}' >/dev/null
    id=$(json .id)
    call GET "/api/v1/tasks/$id" 200 >/dev/null
    printf 'notes for the gateway walk\n' >"$D/notes.txt"
    call POST "/api/v1/tasks/$id/attachments" 201 -F "file=@$D/notes.txt;type=text/plain" >/dev/null
    call GET "/api/v1/tasks/$id/attachments" 200 >/dev/null
    call POST /api/v1/files 201 -F "file=@$D/notes.txt;type=text/plain" >/dev/null
    file=$(json .id)
    call GET "/api/v1/files/$file/download" 200 >/dev/null
    cmp -s "$D/body" "$D/notes.txt" || { echo "FAIL: the download differs from the upload" >&2; return 1; }
    call GET "/api/v1/search?q=gateway" 200 >/dev/null
    call GET /api/v1/products 200 >/dev/null
    call GET /api/v1/tags 200 >/dev/null
    call GET /api/v1/projects 200 >/dev/null
    call GET /api/v1/market 200 >/dev/null
    call GET /api/v1/nowhere 404 >/dev/null
    # Chat through the gateway (served by the edge role's realtime group): a room, its members'
    # list and its history. Messages are sent over the WebSocket, which is not built yet.
    local room=walk-$$
    call POST /api/v1/chat/rooms 201 -H 'Content-Type: application/json' -d "{\"name\":\"$room\"}" >/dev/null
    call GET /api/v1/chat/rooms 200 >/dev/null
    [ "$(jq -r --arg r "$room" '[.data[] | select(.name == $r)] | length' "$D/body")" = 1 ]
    call GET "/api/v1/chat/rooms/$room/messages" 200 >/dev/null
    # The system metrics go to the realtime role too (a plain user is refused there, not lost),
    # and the dashboard's page with them.
    call GET /api/v1/system/metrics 403 >/dev/null
    call GET /dashboard 308 >/dev/null
    call GET /dashboard/ 200 >/dev/null
    grep -q 'dashboard.js' "$D/body" || { echo "FAIL: /dashboard/ is not the dashboard" >&2; return 1; }
    call GET /dashboard/vendor/uPlot.iife.min.js 200 >/dev/null
}
roles() {
    # Each role answers only its groups; the worker serves health and metrics only.
    TOKEN=
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_AUTH/api/v1/tasks")" = 404 ]
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_CORE/api/v1/auth/me")" = 404 ]
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_WORKER/api/v1/tasks")" = 404 ]
    curl -fsS -o /dev/null "http://127.0.0.1:$P_WORKER/metrics"
}
secrets_stay_out_of_logs() {
    # A socket opened with a token in its query (refused: the token is no JWT), the same without
    # the handshake, another route with one, and a Referer that carries one.
    local status secret=secret-xyz
    status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
        -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$GW/api/v1/ws?token=$secret")
    [ "$status" = 401 ] || { echo "FAIL: a bad ?token= at the upgrade answered $status, expected 401" >&2; return 1; }
    curl -sS -m 10 -o /dev/null "$GW/api/v1/ws?token=$secret"
    curl -sS -m 10 -o /dev/null "$GW/api/v1/tasks?page=1&token=$secret"
    curl -sS -m 10 -o /dev/null -H "Referer: https://app.example.com/chat?token=$secret#x" "$GW/api/v1/products"
    # nginx writes a line when a request ends; give the last one a moment.
    sleep 0.5
    local leaks
    leaks=$(grep -sn "$secret" "$D/gw/access.log" "$D/gw/error.log" "$D"/*.log || true)
    if [ -n "$leaks" ]; then
        echo "FAIL: a query string's secret reached a log: $leaks" >&2
        return 1
    fi
    grep -q '"GET /api/v1/ws HTTP/1.1" 401' "$D/gw/access.log" ||
        { echo "FAIL: the socket's request is not in the access log as method and path" >&2; return 1; }
    grep -q '"https://app.example.com/chat"' "$D/gw/access.log" ||
        { echo "FAIL: the Referer is not logged without its query" >&2; return 1; }
}
radio() {
    # A station made through the gateway, a real Icecast source client (ffmpeg) on the edge
    # role's source listener, and four listeners through the gateway: two on each instance.
    local key listeners=4 shown user=dj$$
    TOKEN=
    call POST /api/v1/auth/register 201 -H 'Content-Type: application/json' \
        -d "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"correct horse battery\"}" >/dev/null
    call POST /api/v1/auth/login 200 -H 'Content-Type: application/json' \
        -d "{\"email\":\"$user@example.com\",\"password\":\"correct horse battery\"}" >/dev/null
    TOKEN=$(json .access_token)
    call POST /api/v1/radio/stations 201 -H 'Content-Type: application/json' \
        -d '{"slug":"gateway-fm","name":"Gateway FM"}' >/dev/null
    key=$(json .source_key)
    ffmpeg -nostdin -loglevel error -re -f lavfi -i "sine=frequency=440:sample_rate=44100" -ac 2 -c:a libmp3lame \
        -b:a 128k -content_type audio/mpeg -f mp3 "icecast://source:$key@127.0.0.1:$SRC_EDGE/radio/gateway-fm/source" \
        >"$D/ffmpeg.log" 2>&1 &
    echo $! >"$D/pids/ffmpeg.pid"
    sleep 3
    local i pids=()
    for i in $(seq 1 $listeners); do
        curl -s -m 8 -o "$D/listener-$i.mp3" "$GW/radio/gateway-fm/stream" &
        pids+=($!)
    done
    sleep 5
    call GET /api/v1/radio/stations/gateway-fm 200 >/dev/null
    shown=$(jq -c '{live, listeners}' "$D/body")
    for i in "${pids[@]}"; do wait "$i" || true; done
    kill "$(cat "$D/pids/ffmpeg.pid")" 2>/dev/null || true
    printf '  station while they listened: %s\n' "$shown" >&2
    [ "$shown" = "{\"live\":true,\"listeners\":$listeners}" ] ||
        { echo "FAIL: the station did not count its listeners on both instances" >&2; return 1; }
    # 8 s at 128 kbit/s is 128 kB; each listener must have had most of it, from a frame's start.
    for i in $(seq 1 $listeners); do
        local size
        size=$(stat -c %s "$D/listener-$i.mp3")
        printf '  listener %s: %s bytes, starting %s\n' "$i" "$size" "$(head -c 2 "$D/listener-$i.mp3" | od -An -tx1 | tr -d ' ')" >&2
        [ "$size" -gt 100000 ] && [ "$(head -c 1 "$D/listener-$i.mp3" | od -An -tx1 | tr -d ' ')" = ff ] ||
            { echo "FAIL: listener $i through the gateway did not get the stream" >&2; return 1; }
    done
    grep -q '"GET /radio/gateway-fm/stream' "$D/gw/access.log" ||
        { echo "FAIL: the listeners did not go through the gateway" >&2; return 1; }
}
step "walk through the gateway $GW" walk
step "roles answer only their groups" roles
step "no query string reaches a log" secrets_stay_out_of_logs
if command -v ffmpeg >/dev/null; then
    step "a radio station on two instances behind the gateway" radio
elif [ "${CI:-}" = true ]; then
    echo "gateway-test: the radio step needs ffmpeg" >&2; exit 1
else
    echo "gateway-test: SKIPPED the radio step (no ffmpeg)" >&2
fi
log "gateway test passed"
