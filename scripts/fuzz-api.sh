#!/usr/bin/env bash
# make fuzz-api: schemathesis over every operation of the served OpenAPI document, against the release
# binary on a fresh SQLite database in a temporary directory (or on the PostgreSQL database at
# FUZZ_DATABASE_URL). A user and an admin are made and a few resources seeded, so that ids are real;
# then every operation is run twice, with every check and every phase (stateful included, chaining
# operations through the document's links): first as the user, then as the admin (who may disable
# or delete the user, hence last). Any failure fails the run. JUnit reports go to target/fuzz-api/.
#
# FUZZ_MAX_TIME      seconds of fuzzing in all, shared by the two passes (default 240)
# FUZZ_RATE_LIMIT    schemathesis' request rate (default 50/s)
# FUZZ_WORKERS       concurrent schemathesis workers (default 1: with two, Hypothesis' lambda
#                    descriptions sometimes trip CPython 3.11's AST recursion check, a tool error)
# FUZZ_SEED          replay a run (its seed is printed)
# FUZZ_DATABASE_URL  a PostgreSQL database to run on instead of SQLite
# FUZZ_BIN           a workbench binary to run instead of building the release one
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_TIME=${FUZZ_MAX_TIME:-240}
RATE=${FUZZ_RATE_LIMIT:-50/s}
WORKERS=${FUZZ_WORKERS:-1}
OUT=target/fuzz-api
CONFIG=scripts/fuzz-api/schemathesis.toml
mkdir -p "$OUT"

log() { printf '\n== %s\n' "$*"; }

# schemathesis 4.32 or newer (hooks and configuration used here); into a virtualenv under target/
# when the one on PATH is missing or older, so that no system Python is touched.
ST=st
st_is_recent() {
    command -v "$1" >/dev/null 2>&1 || return 1
    "$1" --version 2>/dev/null | python3 -c 'import re, sys
m = re.search(r"(\d+)\.(\d+)", sys.stdin.read())
sys.exit(0 if m and (4, 32) <= (int(m[1]), int(m[2])) < (5, 0) else 1)'
}
if ! st_is_recent st; then
    ST=$OUT/venv/bin/st
    if ! st_is_recent "$ST"; then
        log "installing schemathesis into $OUT/venv"
        python3 -m venv "$OUT/venv"
        "$OUT/venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4.32,<5'
    fi
fi
echo "schemathesis: $("$ST" --version)"

if [ -n "${FUZZ_BIN:-}" ]; then
    # CI passes the debug binary its tests already built: the answers are what is checked, not
    # their speed, and an optimised build would add minutes.
    BIN=$(cd "$(dirname "$FUZZ_BIN")" && pwd)/$(basename "$FUZZ_BIN")
else
    log "building the release binary"
    ${CARGO:-cargo} build --release -q -p workbench-app --bin workbench
    BIN=$PWD/target/release/workbench
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/workbench-fuzz.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
# The server's settings: a configuration file of the working directory is not read; bcrypt at its
# lowest cost, since the fuzzer registers and signs in many times; tokens that outlive the run;
# rate limits out of the way (a 429 is a documented answer, but would stop the fuzzer reaching
# anything else).
export WORKBENCH_CONFIG=$WORK/none.toml DATA_DIR=$WORK/data BIND_ADDR=127.0.0.1:$PORT
export BCRYPT_COST=4 ACCESS_TOKEN_TTL=2h JWT_SECRET
JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_AUTH_PER_MINUTE=1000000
export LOG_FORMAT=json RUST_LOG=${FUZZ_LOG:-warn}
# Third-party providers at a port nobody listens on: each call fails at once with 502 (see
# schemathesis.toml), and no fuzzed request leaves the machine.
export WEATHER_API_URL=http://127.0.0.1:9 WEATHER_GEOCODING_URL=http://127.0.0.1:9 CRYPTO_API_URL=http://127.0.0.1:9
export TRANSLATE_PROVIDER=libretranslate TRANSLATE_API_URL=http://127.0.0.1:9
# Inbound webhooks have their secrets, as in production: a generated signature is then checked
# (and refused as invalid, see hooks.py) rather than the whole provider being unconfigured.
export GITHUB_WEBHOOK_SECRET STRIPE_WEBHOOK_SECRET
GITHUB_WEBHOOK_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
STRIPE_WEBHOOK_SECRET=whsec_$(python3 -c 'import secrets; print(secrets.token_hex(16))')
if [ -n "${FUZZ_DATABASE_URL:-}" ]; then
    export DATABASE_URL=$FUZZ_DATABASE_URL
    log "PostgreSQL at ${FUZZ_DATABASE_URL%%\?*}"
else
    unset DATABASE_URL
    log "SQLite in $DATA_DIR"
fi

# Names of this run, so that a database that has seen other runs takes these accounts too.
RUN=$(python3 -c 'import secrets; print(secrets.token_hex(4))')
PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
ADMIN_EMAIL=fuzz-admin-$RUN@example.com
USER_EMAIL=fuzz-user-$RUN@example.com

echo "$PASSWORD" | "$BIN" admin create-user --username "fuzz-admin-$RUN" --email "$ADMIN_EMAIL" --role admin \
    > "$WORK/admin.log" 2>&1 || { cat "$WORK/admin.log" >&2; exit 1; }

"$BIN" serve > "$OUT/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/health" >/dev/null || { echo "the server did not start; see $OUT/server.log" >&2; exit 1; }

# $1 method, $2 path, $3 token (or -), $4 JSON body (optional): prints the response body; fails
# unless the status is 2xx.
call() {
    local auth=()
    [ "$3" = - ] || auth=(-H "Authorization: Bearer $3")
    curl -sS --fail-with-body -X "$1" "$BASE$2" "${auth[@]}" -H 'Content-Type: application/json' ${4:+-d "$4"}
}
field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

log "seeding"
call POST /api/v1/auth/register - \
    "{\"username\":\"fuzz-user-$RUN\",\"email\":\"$USER_EMAIL\",\"password\":\"$PASSWORD\"}" > /dev/null
USER_TOKEN=$(call POST /api/v1/auth/login - "{\"email\":\"$USER_EMAIL\",\"password\":\"$PASSWORD\"}" | field '["access_token"]')
ADMIN_LOGIN=$(call POST /api/v1/auth/login - "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$PASSWORD\"}")
ADMIN_TOKEN=$(field '["access_token"]' <<< "$ADMIN_LOGIN")
ADMIN_ID=$(field '["user"]["id"]' <<< "$ADMIN_LOGIN")
for i in 1 2 3; do
    task=$(call POST /api/v1/tasks "$USER_TOKEN" \
        "{\"title\":\"Seeded task $i\",\"description\":\"So that ids are real\",\"due_date\":\"2030-0$i-15\",\"tags\":[\"seed\",\"t$i\"],\"assignee_id\":$ADMIN_ID}")
    task_id=$(field '["id"]' <<< "$task")
    TASK_IDS="${TASK_IDS:+$TASK_IDS, }$task_id"
    call POST "/api/v1/tasks/$task_id/comments" "$USER_TOKEN" "{\"body\":\"Seeded comment on task $i\"}" > /dev/null
done
call POST /api/v1/tasks "$ADMIN_TOKEN" '{"title":"Seeded task of the admin","priority":"high"}' > /dev/null
category=$(call POST /api/v1/categories "$ADMIN_TOKEN" "{\"name\":\"Seeded category $RUN\"}")
CATEGORY_ID=$(field '["id"]' <<< "$category")
product=$(call POST /api/v1/products "$ADMIN_TOKEN" \
    "{\"name\":\"Seeded kettle\",\"category_id\":$CATEGORY_ID,\"brand\":\"Acme\",\"warranty_months\":24,\"price_cents\":4999,\"currency\":\"EUR\"}")
PRODUCT_ID=$(field '["id"]' <<< "$product")
item=$(call POST /api/v1/user-products "$USER_TOKEN" \
    "{\"product_id\":$PRODUCT_ID,\"serial_number\":\"SEED-1\",\"purchase_date\":\"2025-01-31\"}")
ITEM_ID=$(field '["id"]' <<< "$item")
# The admin stays active through both passes (nobody may disable their own account): tasks may be
# assigned to it. The fuzzer may discontinue or delete the seeded product in the admin pass; the
# hooks accept the refusals that follow.
export FUZZ_REAL_IDS="{\"assignee_id\": [$ADMIN_ID], \"category_id\": [$CATEGORY_ID], \"product_id\": [$PRODUCT_ID], \"task_id\": [$TASK_IDS], \"user_product_id\": [$ITEM_ID], \"user_id\": [$ADMIN_ID]}"

operations=$(curl -sf "$BASE/api-docs/openapi.json" | python3 -c 'import json, sys
doc = json.load(sys.stdin)
print(sum(1 for item in doc["paths"].values() for m in item if m in ("get", "put", "post", "delete", "patch")))')
echo "$operations operations in the served document"

status=0
# Left out: the WebSocket handshake (not a request schemathesis can make: without an upgrade it is
# a 400 by design) and the metrics history, whose `minutes` bound is the configured retention,
# which the document cannot state. Both have black-box tests of their own.
# $1 pass name, $2 token, $3 seconds
pass() {
    log "pass '$1': every operation as the $1, up to $3 s"
    FUZZ_TOKEN=$2 "$ST" --config-file "$CONFIG" run "$BASE/api-docs/openapi.json" \
 \
        --exclude-path /api/v1/ws --exclude-path /api/v1/system/metrics/history \
        --checks all --max-time "$3" --workers "$WORKERS" --rate-limit "$RATE" --no-color \
        --report junit --report-junit-path "$OUT/$1.xml" ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
        || status=1
}
user_time=$((MAX_TIME * 3 / 5))
pass user "$USER_TOKEN" "$user_time"
pass admin "$ADMIN_TOKEN" "$((MAX_TIME - user_time))"

if [ "$status" != 0 ]; then
    log "schemathesis reported failures (reports in $OUT/, server log in $OUT/server.log)"
    exit 1
fi
# actix-http logs a request it could not parse (a header with a NUL byte, say) at ERROR after
# answering it 400: the client's mistake, not the server's, so those lines are not counted.
errors=$(grep '"level":"ERROR"' "$OUT/server.log" | grep -v '"message":"stream error: request parse error' || true)
if [ -n "$errors" ]; then
    log "the server logged errors during the run (see $OUT/server.log)"
    head -20 <<< "$errors" >&2
    exit 1
fi
log "no failures"
