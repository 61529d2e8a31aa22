#!/usr/bin/env bash
# make bench-radio: a station measured as ../shared/anchors/icecast-run.sh measures Icecast 2.4,
# and a rendition's first byte and speed.
#
# Radio: the release binary on SQLite pinned to one core (SERVER_CPU, default 1); ffmpeg sends a
# 128 kbit/s MP3 sine as an Icecast source (`icecast://`, the way community stations connect) to
# the source listener; the anchor's listener script (radio_listeners.py, on LOAD_CPU) holds N
# listeners for SECONDS and reports time to first byte and the slowest listener's rate. Memory
# per listener is the server's RSS with the listeners minus its RSS with the source alone; cores
# are its CPU time over the run. Rendition: a 10-minute WAV uploaded, then
# `GET /files/{id}/stream` (MP3 128k): time to the first byte and to the last.
#
#   scripts/bench-radio.sh [LISTENERS=1000] [SECONDS=20] [RUNS=1]     env: RADIO_SETTLE (20 s)
# Needs ffmpeg, python3 and the anchors (../shared/anchors/radio_listeners.py, or RADIO_LISTENERS).
set -euo pipefail
cd "$(dirname "$0")/.."

LISTENERS=${1:-1000}; SECONDS_=${2:-20}; RUNS=${3:-1}
SERVER_CPU=${SERVER_CPU:-1}; LOAD_CPU=${LOAD_CPU:-0}
# Seconds between the source connecting and the baseline RSS (see below).
SETTLE=${RADIO_SETTLE:-20}
PORT=${BENCH_PORT:-18192}
SOURCE_PORT=${BENCH_SOURCE_PORT:-18193}
BASE=http://127.0.0.1:$PORT
BIN=${BENCH_BIN:-target/release/workbench}
LISTENERS_PY=${RADIO_LISTENERS:-../shared/anchors/radio_listeners.py}
OUT=target/bench
mkdir -p "$OUT"
for tool in ffmpeg python3 curl; do
    command -v "$tool" >/dev/null || { echo "make bench-radio needs $tool" >&2; exit 1; }
done
[ -f "$LISTENERS_PY" ] || { echo "no listener script at $LISTENERS_PY (set RADIO_LISTENERS)" >&2; exit 1; }
[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -q -p workbench-app --bin workbench
ulimit -n 65536 2>/dev/null || true

W=$(mktemp -d /tmp/wb-radio.XXXX)
server_pid=; source_pid=
cleanup() {
    for p in $source_pid $server_pid; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
json_field() { sed -E "s/.*\"$1\":\"?([^\",}]*)\"?.*/\1/"; echo; }

# Every listener comes from 127.0.0.1: the cap per address (RADIO_MAX_LISTENERS_PER_IP) is off.
DATA_DIR="$W/data" PORT=$PORT MAX_UPLOAD_BYTES=209715200 RADIO_SOURCE_ADDR=127.0.0.1:$SOURCE_PORT BCRYPT_COST=4 \
    JWT_SECRET=bench-secret-bench-secret-bench-secret RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_AUTH_PER_MINUTE=0 \
    RADIO_MAX_LISTENERS_PER_IP=0 \
    LOG_FORMAT=json RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN" serve > "$OUT/server-radio.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"username":"djbench","email":"dj@example.com","password":"bench-password"}' >/dev/null
token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"dj@example.com","password":"bench-password"}' | json_field access_token)
key=$(curl -sf "$BASE/api/v1/radio/stations" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"slug":"bench","name":"Bench"}' | json_field source_key)

echo "== radio: $LISTENERS listeners for ${SECONDS_} s, server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
for run in $(seq 1 "$RUNS"); do
    taskset -c "$LOAD_CPU" ffmpeg -nostdin -loglevel error -re -f lavfi -i "sine=frequency=440:sample_rate=44100" -ac 2 \
        -c:a libmp3lame -b:a 128k -content_type audio/mpeg -f mp3 \
        "icecast://source:$key@127.0.0.1:$SOURCE_PORT/radio/bench/source" & source_pid=$!
    # The baseline waits until the server's start-up memory has settled: the allocator gives back
    # what start-up used for several seconds, which made a fresh server's first run negative.
    sleep "$SETTLE"
    base=$(rss_kb "$server_pid"); t0=$(cpu_ticks "$server_pid")
    taskset -c "$LOAD_CPU" python3 "$LISTENERS_PY" "$BASE/radio/bench/stream" \
        --listeners "$LISTENERS" --seconds "$SECONDS_" --kbps 128 --ramp 500 --settle 3 > "$W/out.json" & lp=$!
    sleep $(( LISTENERS / 500 + 3 + SECONDS_ / 2 ))
    peak=$(rss_kb "$server_pid")
    wait "$lp"; t1=$(cpu_ticks "$server_pid")
    hz=$(getconf CLK_TCK); total_s=$(( LISTENERS / 500 + 3 + SECONDS_ ))
    echo "run $run: $(cat "$W/out.json")"
    awk -v b="$base" -v p="$peak" -v n="$LISTENERS" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v s="$total_s" -v r="$run" \
        'BEGIN { printf "run %d: workbench RSS %d KB with the source, %d KB with listeners: %.1f KB per listener; CPU %.3f cores over %d s\n", r, b, p, (p-b)/n, (t1-t0)/hz/s, s }'
    kill "$source_pid" 2>/dev/null; wait "$source_pid" 2>/dev/null || true; source_pid=
    sleep 2
done

echo "== rendition: a 10-minute WAV (44.1 kHz stereo) to MP3 128k"
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=600" -ac 2 "$W/ten.wav"
size=$(stat -c %s "$W/ten.wav")
# The upload limit is the server's; this one is raised for the bench's 100 MB file.
file=$(curl -sf "$BASE/api/v1/files" -H "authorization: Bearer $token" -F "file=@$W/ten.wav" | json_field id) || {
    echo "the upload of $size bytes was refused: start the server with MAX_UPLOAD_BYTES above it" >&2; exit 1; }
curl -s -o "$W/ten.mp3" -w 'first byte %{time_starttransfer} s, whole %{time_total} s, %{size_download} bytes\n' \
    "$BASE/api/v1/files/$file/stream" -H "authorization: Bearer $token"
