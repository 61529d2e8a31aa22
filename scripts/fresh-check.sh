#!/usr/bin/env bash
# The README's first promise, checked on a fresh machine: a Debian 12 root with nothing but gcc,
# make and git (no -dev package, no pkg-config), the host's Rust toolchain copied in, then
#   git clone → make run (serving: /health answers) → make test (green)
# with the time of each step. Crates come from the registry, as they would for a newcomer.
#
#   scripts/fresh-check.sh            # about 40 min on two cores (two cold builds)
#   FRESH_KEEP=1 scripts/fresh-check.sh   # keep $FRESH_WORK (the root) for another run
#
# Needs root (debootstrap, chroot, bind mounts) and a Debian mirror (scripts/deploy/lib.sh).
# The root shares the host's network: `make test` finds no TEST_DATABASE_URL and skips the
# PostgreSQL, Redis and NATS tests loudly, as it would on a newcomer's laptop.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
# shellcheck source=scripts/deploy/lib.sh
. scripts/deploy/lib.sh

WORK=${FRESH_WORK:-/tmp/workbench-fresh}
CHROOT=$WORK/root
PORT=${FRESH_PORT:-8080}
TRANSCRIPT=$WORK/transcript.txt
mkdir -p "$WORK"
: >"$TRANSCRIPT"

say() { printf '%s\n' "$*" | tee -a "$TRANSCRIPT"; }
# step LABEL CMD...: runs CMD, appends its output to the transcript, prints the time it took.
step() {
    local label=$1 start rc=0
    shift
    start=$(date +%s)
    "$@" >>"$TRANSCRIPT" 2>&1 || rc=$?
    say "---- $label rc=$rc $(($(date +%s) - start)) s"
    return "$rc"
}

server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill -- -"$server_pid" 2>/dev/null || kill "$server_pid" 2>/dev/null || true
    for m in dev/pts dev proc mnt/origin; do umount -l "$CHROOT/$m" 2>/dev/null || true; done
    [ -n "${FRESH_KEEP:-}" ] || rm -rf "$CHROOT"
}
trap cleanup EXIT

command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
if [ ! -x "$CHROOT/usr/bin/make" ]; then
    mirror=$(debian_mirror)
    rm -rf "$CHROOT"
    # gcc, make and git; libc6-dev is what `apt-get install gcc` brings as a recommendation.
    step "debootstrap bookworm (minbase + gcc make git)" \
        debootstrap --variant=minbase --include=gcc,libc6-dev,make,git,ca-certificates bookworm "$CHROOT" "$mirror"
fi

# The host's Rust toolchain (rustc, cargo, the standard library), as `rustup` would install it.
sysroot=$(rustc --print sysroot)
rm -rf "$CHROOT/usr/local/rust"
mkdir -p "$CHROOT/usr/local/rust"
cp -a "$sysroot/bin" "$sysroot/lib" "$CHROOT/usr/local/rust/"
# The machine's trust store (a registry proxy's CA, where there is one): the root's own bundle
# would refuse the registry here.
cp /etc/ssl/certs/ca-certificates.crt "$CHROOT/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true
# What every installed system has and debootstrap does not write.
[ -s "$CHROOT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$CHROOT/etc/hosts"

mkdir -p "$CHROOT/mnt/origin"
mount --bind "$ROOT_DIR" "$CHROOT/mnt/origin"
mount -o remount,bind,ro "$CHROOT/mnt/origin"
mount -t proc proc "$CHROOT/proc"
mount --bind /dev "$CHROOT/dev"
mount --bind /dev/pts "$CHROOT/dev/pts"

# in_root CMD: a login-like shell in the root, as a newcomer's terminal would be.
in_root() {
    chroot "$CHROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/rust/bin:/root/.cargo/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        CARGO_HOME=/root/.cargo /bin/bash -c "$1"
}

say "== what the root has"
in_root 'cat /etc/debian_version; gcc --version | head -1; make --version | head -1; git --version; rustc --version; cargo --version;
         command -v pkg-config || echo "pkg-config: none";
         dpkg -l | grep -E "^ii +lib[a-z0-9-]*-dev" | awk "{print \$2}" | tr "\n" " "; echo' | tee -a "$TRANSCRIPT"
if in_root 'dpkg -s libssl-dev libturbojpeg0-dev pkg-config' >/dev/null 2>&1; then
    say "the root has a system library it must not have"; exit 1
fi

rm -rf "$CHROOT/root/workbench" "$CHROOT/root/.cargo"
step "git clone" in_root 'git clone -q /mnt/origin /root/workbench'

# make run: the cold debug build, then serving; the host asks /health.
start=$(date +%s)
setsid chroot "$CHROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/rust/bin:/root/.cargo/bin:/usr/sbin:/usr/bin:/sbin:/bin CARGO_HOME=/root/.cargo \
    BIND_ADDR="127.0.0.1:$PORT" /bin/bash -c 'cd /root/workbench && exec make run' >"$WORK/run.log" 2>&1 &
server_pid=$!
served=
for _ in $(seq 1 3600); do
    if curl -fsS "http://127.0.0.1:$PORT/health" >"$WORK/health.json" 2>/dev/null; then served=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 1
done
cat "$WORK/run.log" >>"$TRANSCRIPT"
if [ -z "$served" ]; then
    say "---- make run rc=1 $(($(date +%s) - start)) s: never served"
    tail -n 30 "$WORK/run.log"
    exit 1
fi
say "---- make run → serving rc=0 $(($(date +%s) - start)) s: GET /health $(cat "$WORK/health.json")"
kill -- -"$server_pid" 2>/dev/null || kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=

step "make test" in_root 'cd /root/workbench && make test' || {
    grep -E "^test .* FAILED|^failures:|panicked" "$TRANSCRIPT" | head -n 40
    exit 1
}
grep -E "^test result:" "$TRANSCRIPT" | awk '{p+=$4; f+=$6; i+=$8} END {printf "tests: %d passed, %d failed, %d ignored\n", p, f, i}' | tee -a "$TRANSCRIPT"
say "transcript: $TRANSCRIPT"
