#!/usr/bin/env bash
# Fault runs: two Workbench instances (every route group) behind the nginx gateway, on a private
# PostgreSQL (initdb in a temp dir, port 15433) and a private Redis (port 16379), so the machine's
# shared servers are never touched. Under a steady write load (POST /api/v1/tasks through the
# gateway), in turn:
#   pg      PostgreSQL stopped for 3 s and started again
#   redis   Redis stopped for 3 s and started again
#   kill    one instance killed with SIGKILL, while a chat reader connected to it and a sender on
#           the other talk in a room (scripts/deploy/ws_faults.py): the reader reconnects through the
#           gateway and fetches what it missed by `history after`; stored messages it never saw = lost
# and, for each: answers by status, how slow the failed answers were (fail fast, not hang), how
# long after the fault the last failure came, and acknowledged writes (2xx) against the rows in
# the database (lost = acknowledged but absent). Figures: target/fault-runs/results.md.
#   WORKBENCH_BIN (default target/debug/workbench, built), LOAD_SECONDS (20), LOAD_RATE (20/s)
. "$(dirname "$0")/deploy/lib.sh"
cd "$ROOT"
BIN=${WORKBENCH_BIN:-target/debug/workbench}
[ -n "${WORKBENCH_BIN:-}" ] || step "cargo build (debug)" $NICE cargo build -q -p workbench-app --bin workbench
step "apt: nginx, jq" ensure_apt nginx jq
SECONDS_LOAD=${LOAD_SECONDS:-20} RATE=${LOAD_RATE:-20}
PGPORT=15433 REDISPORT=16379 GWPORT=18390 P1=18391 P2=18392
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PGBIN/initdb" ] || { log "FAILED: no PostgreSQL server binaries under /usr/lib/postgresql (set PGBIN)"; exit 1; }
GW=http://127.0.0.1:$GWPORT
D=$(mktemp -d /tmp/wb-faults.XXXXXX)
chmod 755 "$D"  # nginx runs as nobody, PostgreSQL as postgres
mkdir -p "$D/pids" "$D/gw/tmp" "$D/data" "$D/pgsock"
OUTDIR=$ROOT/target/fault-runs
mkdir -p "$OUTDIR"
AS_PG="setpriv --reuid=postgres --regid=postgres --init-groups"

pg() { $AS_PG "$PGBIN/pg_ctl" -D "$D/pg" -l "$D/pg.log" -w -t 30 "$@" >/dev/null; }
pg_start() { pg -o "-p $PGPORT -k $D/pgsock -c listen_addresses=127.0.0.1 -c max_connections=100" start; }
redis_start() {
    redis-server --port "$REDISPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$D/redis.log" 2>&1 &
    echo $! >"$D/pids/redis.pid"
    for _ in $(seq 1 50); do redis-cli -p "$REDISPORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
redis_stop() { kill "$(cat "$D/pids/redis.pid")"; while kill -0 "$(cat "$D/pids/redis.pid")" 2>/dev/null; do sleep 0.1; done; }
start_instance() {  # NAME PORT
    env PORT="$2" "$BIN" serve >"$D/$1.log" 2>&1 &
    echo $! >"$D/pids/$1.pid"
}
stop_all() {
    local f
    for f in "$D"/pids/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    pg -m immediate stop 2>/dev/null || true
    sleep 0.5
    for f in "$D"/pids/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap stop_all EXIT

chown postgres:postgres "$D" "$D/pgsock"
step "private PostgreSQL (initdb, port $PGPORT)" sh -c "$AS_PG $PGBIN/initdb -D '$D/pg' -U postgres --auth=trust >/dev/null"
pg_start
$AS_PG "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres workbench
redis_start
export DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/workbench REDIS_URL=redis://127.0.0.1:$REDISPORT \
    REDIS_PREFIX=faults DATA_DIR=$D/data PUBLIC_URL=$GW JWT_SECRET=fault-runs-secret-of-at-least-32-bytes \
    WORKBENCH_ENV=production TRUSTED_PROXIES=127.0.0.1/32 BCRYPT_COST=4 LOG_FORMAT=json WORKERS=2 \
    RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_AUTH_PER_MINUTE=1000000 BIND_ADDR=127.0.0.1:0 SHUTDOWN_TIMEOUT=5
"$BIN" migrate >"$D/migrate.log" 2>&1
start_instance one "$P1"
start_instance two "$P2"
wait_http "http://127.0.0.1:$P1/ready" 150 && wait_http "http://127.0.0.1:$P2/ready" 150

# Every upstream the gateway's routes name, read from them: a route group added there is served
# here too (a fixed list stopped at the ten groups of its day and nginx refused to start).
mapfile -t groups < <(grep -oE 'proxy_pass http://[A-Za-z0-9_-]+' deploy/gateway/routes.conf | sed 's#.*http://##' | sort -u)
[ "${#groups[@]}" -gt 0 ] || { log "FAILED: no upstream named in deploy/gateway/routes.conf"; exit 1; }
for g in "${groups[@]}"; do
    printf 'upstream %s { server 127.0.0.1:%s max_fails=1 fail_timeout=2s; server 127.0.0.1:%s max_fails=1 fail_timeout=2s; keepalive 8; }\n' "$g" "$P1" "$P2"
done >"$D/gw/upstreams.conf"
cp deploy/gateway/routes.conf "$D/gw/routes.conf"
sed -e "s#listen 8080;#listen 127.0.0.1:$GWPORT;#" -e "s#/etc/nginx/workbench/#$D/gw/#g" \
    -e "s#/tmp/nginx#$D/gw/tmp/nginx#g" -e "s#error_log stderr#error_log $D/gw/error.log#" \
    -e "s#access_log /dev/stdout#access_log $D/gw/access.log#" deploy/gateway/nginx.conf >"$D/gw/nginx.conf"
chown -R nobody:nogroup "$D/gw"
setpriv --reuid=65534 --regid=65534 --clear-groups nginx -p "$D/gw" -c "$D/gw/nginx.conf" -e "$D/gw/error.log" -g 'daemon off;' &
echo $! >"$D/pids/nginx.pid"
wait_http "$GW/gateway/health"

curl -fsS -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"loader","email":"loader@example.com","password":"correct horse battery"}' "$GW/api/v1/auth/register"
TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d '{"email":"loader@example.com","password":"correct horse battery"}' "$GW/api/v1/auth/login" | jq -r .access_token)

# scenario NAME FAULT-FUNCTION: the load for SECONDS_LOAD, the fault 5 s in; then the figures.
scenario() {
    local name=$1 fault=$2
    python3 scripts/deploy/load.py "$GW" "$TOKEN" "$name" "$SECONDS_LOAD" "$RATE" "$D/$name.json" &
    local load=$!
    sleep 5
    local begin end
    begin=$(date +%s.%N)
    $fault
    end=$(date +%s.%N)
    wait "$load"
    sleep 1
    psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d workbench -tAc "SELECT id FROM tasks WHERE title LIKE '$name-%'" >"$D/$name.rows"
    python3 - "$name" "$D/$name.json" "$D/$name.rows" "$begin" "$end" <<'PY' | tee -a "$OUTDIR/results.md"
import json, sys
name, answers, rows, begin, end = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
ids = {int(l) for l in open(rows) if l.strip()}
ok = [a for a in answers if 200 <= a["status"] < 300]
failed = [a for a in answers if not 200 <= a["status"] < 300]
acked = {a["id"] for a in ok}
lost = acked - ids
statuses = {}
for a in failed:
    statuses[a["status"]] = statuses.get(a["status"], 0) + 1
last_failure = max((a["w"] + a["ms"] / 1000 for a in failed), default=None)
after = f"{last_failure - end:+.1f} s" if last_failure else "none"
slowest = max((a["ms"] for a in failed), default=0)
ms = sorted(a["ms"] for a in answers)
p50, top = (ms[len(ms) // 2], ms[-1]) if ms else (0, 0)
print(f"| {name} | {len(answers)} | {len(ok)} | {p50} / {top} ms | {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items())) or '-'} "
      f"| {slowest} ms | {end - begin:.1f} s | {after} | {len(ids)} | {len(lost)} |")
if lost:
    print(f"FAILED: {len(lost)} acknowledged write(s) of {name} are not in the database: {sorted(lost)[:10]}", file=sys.stderr)
    sys.exit(1)
PY
}
pg_restart() { pg -m fast stop; sleep 3; pg_start; }
redis_restart() { redis_stop; sleep 3; redis_start; }
kill_one() { kill -9 "$(cat "$D/pids/two.pid")"; rm -f "$D/pids/two.pid"; }

{
    echo "Fault runs $(date -u +%FT%TZ), $(git rev-parse --short HEAD), ${SECONDS_LOAD}s at ${RATE} writes/s through the gateway, two instances"
    echo
    echo "| fault | requests | 2xx | latency p50 / max | failed (status: count; 0 = no answer) | slowest failure | fault lasted | last failure after the fault ended | rows written | acknowledged but lost |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
} | tee "$OUTDIR/results.md"
step "fault: PostgreSQL restart" scenario pg pg_restart
step "fault: Redis restart" scenario redis redis_restart
ensure_pip ws websockets
"$WORK/venv-ws/bin/python" scripts/deploy/ws_faults.py "$GW" "http://127.0.0.1:$P1" "http://127.0.0.1:$P2" "$SECONDS_LOAD" "$D/ws.json" \
    >"$D/ws.log" 2>&1 &
ws_clients=$!
step "fault: kill -9 one instance" scenario kill kill_one
ws_status=0
wait "$ws_clients" || ws_status=$?
{
    echo
    echo "WebSocket clients through the kill (scripts/deploy/ws_faults.py): $(tail -1 "$D/ws.log")"
} | tee -a "$OUTDIR/results.md"
if [ "$ws_status" != 0 ]; then
    tail -20 "$D/ws.log" >&2
    log "FAILED: a chat message stored during the kill never reached the reader (or it never came back)"
    exit 1
fi
log "figures in $OUTDIR/results.md"
