#!/usr/bin/env bash
# The live dashboard and a radio station in a real browser: builds the debug binary, starts it on a free loopback port
# on a fresh SQLite data directory, sampling every second with a CPU threshold of 0 (so an alert
# fires within seconds), makes an admin, and runs tests/browser/dashboard.mjs against it with
# Debian's chromium. Installs what is missing: the npm packages (`npm ci`), and chromium when
# running as root. Exits with the browser test's status; its screenshot is in
# target/browser/dashboard.png unless SCREENSHOT says otherwise.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}
screenshot=${SCREENSHOT:-$root/target/browser/dashboard.png}

say() { printf 'browser-test: %s\n' "$*" >&2; }

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    say "installing the npm packages of tests/browser"
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "/usr/bin/chromium is missing: sudo apt-get install chromium"
        exit 1
    fi
    say "installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

make -s build

work=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A copy, so that a build running meanwhile (a shared target directory) cannot swap the binary.
cp "$target_dir/debug/workbench" "$work/workbench"
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
password="browser-test-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
email=dashboard@example.com

# Only these settings: nothing from the caller's environment or a workbench.toml (the server
# runs in the empty work directory) points it at another database. `env` execs the binary in
# place, so the server's `$!` is the server itself and `cleanup` stops it; a subshell around it
# would take the signal and leave the server running.
with_settings=(env -C "$work" -i PATH="$PATH" HOME="$work"
    BIND_ADDR="127.0.0.1:$port" DATA_DIR="$work/data" BCRYPT_COST=4 LOG_FORMAT=json
    SYSTEM_METRICS_INTERVAL=1s ALERT_CPU_PERCENT=0 ALERT_FOR=2s JOB_WORKERS=1
    JWT_SECRET="browser-test-secret-$(basename "$work")-0123456789abcdef")
run() { "${with_settings[@]}" "$work/workbench" "$@"; }

printf '%s\n' "$password" | run admin create-user --username dashboard --email "$email" --role admin >"$work/admin.log" 2>&1 ||
    { say "could not create the admin:"; cat "$work/admin.log" >&2; exit 1; }

"${with_settings[@]}" "$work/workbench" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    if run healthcheck 2>/dev/null; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then
        say "the server stopped:"; tail -20 "$work/server.log" >&2; exit 1
    fi
    sleep 0.2
done
run healthcheck || { say "the server did not answer /health"; tail -20 "$work/server.log" >&2; exit 1; }
say "server on http://127.0.0.1:$port (SQLite in $work/data)"

status=0
WORKBENCH_URL="http://127.0.0.1:$port" WB_USER="$email" WB_PASSWORD="$password" SCREENSHOT="$screenshot" \
    node tests/browser/dashboard.mjs || status=$?
# A radio station in an <audio> element: its playlist is transcoded by ffmpeg.
if command -v ffmpeg >/dev/null; then
    WORKBENCH_URL="http://127.0.0.1:$port" WB_USER="$email" WB_PASSWORD="$password" \
        node tests/browser/radio.mjs || status=$?
elif [ -n "${CI:-}" ]; then
    say "ffmpeg is missing: the radio's browser test cannot run"; status=1
else
    say "SKIPPED the radio's browser test: no ffmpeg (apt-get install ffmpeg)"
fi
if [ "$status" -ne 0 ]; then
    say "the server's last log lines:"
    tail -20 "$work/server.log" >&2
fi
exit "$status"
