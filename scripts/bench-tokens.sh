#!/usr/bin/env bash
# make bench-tokens: what a personal access token costs against an access token (a JWT) on the
# same request, `GET /api/v1/tasks/{id}`, on the same release binary and the same task. wrk drives
# each bearer in turn (JWT, token, JWT, ...) BENCH_ROUNDS times for BENCH_DURATION at
# BENCH_CONNECTIONS keep-alive connections, on loopback only; the figures of each run, and each
# bearer's mean, are printed and kept in target/bench/tokens.md. SQLite unless BENCH_DATABASE_URL
# names a PostgreSQL database.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
PORT=${BENCH_PORT:-18189}
BASE=http://127.0.0.1:$PORT
OUT=target/bench
mkdir -p "$OUT"
command -v wrk >/dev/null 2>&1 || { echo "make bench-tokens needs wrk (apt-get install wrk)" >&2; exit 1; }

if [ -z "${BENCH_BIN:-}" ]; then
    echo "== building the release binary"
    ${CARGO:-cargo} build --release -q -p workbench-app --bin workbench
fi
BIN=${BENCH_BIN:-target/release/workbench}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/workbench-bench-tokens.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# One client from one address: rate limits off, as in make bench.
WORKBENCH_CONFIG=$WORK/none.toml DATA_DIR=$WORK/data DATABASE_URL=${BENCH_DATABASE_URL:-} BIND_ADDR=127.0.0.1:$PORT \
    BCRYPT_COST=4 JWT_SECRET=bench-secret-bench-secret-bench-secret ACCESS_TOKEN_TTL=1h \
    RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_AUTH_PER_MINUTE=0 LOG_FORMAT=json RUST_LOG=warn \
    "$BIN" serve > "$OUT/server-tokens.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done

field() { python3 -c "import json, sys; print(json.load(sys.stdin)[\"$1\"])"; }
post() { curl -sf "$BASE$1" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$2"; }
post /api/v1/auth/register '{"username":"bench","email":"bench@example.com","password":"bench-password"}' >/dev/null
JWT=$(post /api/v1/auth/login '{"email":"bench@example.com","password":"bench-password"}' | field access_token)
TASK=$(post /api/v1/tasks '{"title":"The benchmarked task"}' "$JWT" | field id)
PAT=$(post /api/v1/tokens '{"name":"bench","scopes":["tasks:read"],"password":"bench-password"}' "$JWT" | field token)
URL=$BASE/api/v1/tasks/$TASK

run() { # $1 bearer name, $2 bearer: prints "requests/s p50 p99"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "authorization: Bearer $2" "$URL" \
        > "$WORK/wrk.txt"
    grep -q 'Non-2xx' "$WORK/wrk.txt" && { cat "$WORK/wrk.txt" >&2; echo "$1: non-2xx answers" >&2; exit 1; }
    local rps p50 p99
    rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
    echo "$rps $p50 $p99"
}

{
    echo "| run | bearer | requests/s | p50 | p99 |"
    echo "|---|---|---|---|---|"
} > "$OUT/tokens.md"
# Warm both: the token's grant and the JWT's verification are cached after their first request.
run warm-jwt "$JWT" >/dev/null
run warm-token "$PAT" >/dev/null
jwt_sum=0
pat_sum=0
for round in $(seq 1 "$ROUNDS"); do
    for bearer in jwt token; do
        if [ "$bearer" = jwt ]; then figures=$(run jwt "$JWT"); else figures=$(run token "$PAT"); fi
        read -r rps p50 p99 <<< "$figures"
        echo "| $round | $bearer | $rps | $p50 | $p99 |" | tee -a "$OUT/tokens.md"
        if [ "$bearer" = jwt ]; then jwt_sum=$(python3 -c "print($jwt_sum + $rps)"); else pat_sum=$(python3 -c "print($pat_sum + $rps)"); fi
    done
done
python3 - "$jwt_sum" "$pat_sum" "$ROUNDS" <<'PY' | tee -a "$OUT/tokens.md"
import sys
jwt, pat, rounds = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"\nmean requests/s: JWT {jwt / rounds:.0f}, personal access token {pat / rounds:.0f} "
      f"({(pat - jwt) / jwt * 100:+.1f} %)")
PY
