#!/usr/bin/env bash
# The container image, built and run for real on this machine with Debian's Docker engine
# (started by scripts/deploy/lib.sh, data under $DEPLOY_WORK) and no registry:
#
#   scripts/image.sh build [TAG]            full multi-stage build of deploy/Dockerfile, --network none
#   scripts/image.sh prebuilt [BIN] [TAG]   the `prebuilt` target around a host-built binary (CI)
#   scripts/image.sh smoke [TAG]            run it: /health, a registration, Docker's health
#                                           status, a graceful `docker stop`
#   scripts/image.sh stop                   stop the engine
#
# No image can be pulled here, so the base images are stand-ins under their usual names:
#   debian:bookworm       debootstrap --variant=minbase bookworm, imported;
#   debian:bookworm-slim  that, plus the runtime packages the Dockerfile would install;
#   rust:<host>-bookworm  that, plus gcc/make/pkg-config/libssl-dev/libturbojpeg0-dev and the
#                         host's own Rust toolchain (what the official rust image provides).
# The crates are vendored on the host (`cargo vendor`) into a staged build context.
. "$(dirname "$0")/deploy/lib.sh"
cd "$ROOT"
TAG_DEFAULT=workbench:dev
RUSTVER=$(rustc --version | awk '{split($2,v,"."); print v[1]"."v[2]}')
BUILDKIT_DOCKER=/usr/bin/docker   # Debian's client: BuildKit built in (the newer client lacks buildx)

standins() {
    ensure_docker_base
    if ! docker image inspect debian:bookworm-slim --format '{{index .Config.Labels "workbench.standin"}}' 2>/dev/null | grep -q runtime; then
        local d=$WORK/standin-slim
        mkdir -p "$d"
        cat >"$d/Dockerfile" <<'EOT'
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg0 libssl3 ca-certificates ffmpeg \
 && rm -rf /var/lib/apt/lists/*
LABEL workbench.standin=runtime
EOT
        step "stand-in debian:bookworm-slim (+ runtime packages, apt)" \
            sh -c "timeout 900 $NICE $BUILDKIT_DOCKER build -q --network host -t debian:bookworm-slim '$d' >/dev/null"
    fi
    if ! docker image inspect "rust:$RUSTVER-bookworm" >/dev/null 2>&1; then
        local d=$WORK/standin-rust sysroot
        sysroot=$(rustc --print sysroot)
        rm -rf "$d"
        mkdir -p "$d/rust"
        cp -al "$sysroot/bin" "$sysroot/lib" "$d/rust/" 2>/dev/null || cp -a "$sysroot/bin" "$sysroot/lib" "$d/rust/"
        cat >"$d/Dockerfile" <<'EOT'
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ libc6-dev make cmake pkg-config \
    libssl-dev libturbojpeg0-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY rust/ /usr/local/rust/
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/rust/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN rustc --version && cargo --version
EOT
        step "stand-in rust:$RUSTVER-bookworm (apt + host toolchain)" \
            sh -c "timeout 1200 $NICE $BUILDKIT_DOCKER build -q --network host -t 'rust:$RUSTVER-bookworm' '$d' >/dev/null"
        rm -rf "$d"
    fi
}

# $WORK/context: the repository's files (tracked and new, not ignored), the vendored crates and
# the cargo configuration that points at them.
stage_context() {
    local ctx=$WORK/context sum
    sum=$(sha256sum Cargo.lock | cut -c1-16)
    if [ "$(cat "$WORK/vendor.sum" 2>/dev/null)" != "$sum" ]; then
        rm -rf "$WORK/vendor"
        step "cargo vendor (host)" sh -c "$NICE cargo vendor --locked -q '$WORK/vendor' >/dev/null"
        echo "$sum" >"$WORK/vendor.sum"
    fi
    rm -rf "$ctx"
    mkdir -p "$ctx/.cargo"
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$ctx"
    cp -al "$WORK/vendor" "$ctx/vendor"
    printf '[source.crates-io]\nreplace-with = "vendored-sources"\n\n[source.vendored-sources]\ndirectory = "vendor"\n' \
        >"$ctx/.cargo/config.toml"
}

build() {
    local tag=${1:-$TAG_DEFAULT}
    dockerd_start
    standins
    stage_context
    step "docker build deploy/Dockerfile --network none ($tag)" \
        sh -c "DOCKER_BUILDKIT=1 timeout 5400 $NICE $BUILDKIT_DOCKER build --network none --progress plain \
            --build-arg RUST_VERSION=$RUSTVER -f '$WORK/context/deploy/Dockerfile' -t '$tag' '$WORK/context' \
            >'$WORK/image-build.log' 2>&1" || { tail -n 30 "$WORK/image-build.log"; return 1; }
    docker image inspect "$tag" --format "$tag: {{.Size}} bytes" | awk '{printf "%s %.1f MB\n", $1, $2/1e6}'
}

prebuilt() {
    local bin=${1:-target/debug/workbench} tag=${2:-$TAG_DEFAULT} ctx=$WORK/prebuilt-context
    [ -x "$bin" ] || { echo "no binary at $bin" >&2; return 1; }
    dockerd_start
    standins
    rm -rf "$ctx"
    mkdir -p "$ctx"
    cp "$bin" "$ctx/workbench"
    step "docker build --target prebuilt ($tag)" \
        sh -c "DOCKER_BUILDKIT=1 timeout 600 $NICE $BUILDKIT_DOCKER build -q --network none --target prebuilt \
            -f deploy/Dockerfile -t '$tag' '$ctx' >/dev/null"
    docker image inspect "$tag" --format "$tag: {{.Size}} bytes" | awk '{printf "%s %.1f MB\n", $1, $2/1e6}'
}

smoke() {
    local tag=${1:-$TAG_DEFAULT} port=${SMOKE_PORT:-18480} name=wb-smoke
    dockerd_start
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" -p "127.0.0.1:$port:8080" \
        -e JWT_SECRET=smoke-test-secret-of-at-least-32-bytes -e BCRYPT_COST=4 "$tag" >/dev/null
    run_checks() {
        wait_http "http://127.0.0.1:$port/health" 150 || { docker logs "$name" | tail -n 20; return 1; }
        curl -fsS "http://127.0.0.1:$port/health"
        echo
        curl -fsS -o /dev/null -w 'register: %{http_code}\n' -H 'Content-Type: application/json' \
            -d '{"username":"smoke","email":"smoke@example.com","password":"correct horse battery"}' \
            "http://127.0.0.1:$port/api/v1/auth/register"
        local health=
        for _ in $(seq 1 60); do
            health=$(docker inspect -f '{{.State.Health.Status}}' "$name")
            [ "$health" = healthy ] && break
            sleep 0.5
        done
        echo "docker health: $health; user: $(docker exec "$name" id -un) ($(docker exec "$name" id -u))"
        [ "$health" = healthy ]
    }
    step "docker run $tag: /health, register, HEALTHCHECK" run_checks || { docker rm -f "$name" >/dev/null; return 1; }
    step "docker stop (SIGTERM, graceful)" docker stop -t 40 "$name" >/dev/null
    docker inspect -f 'exit code {{.State.ExitCode}}' "$name"
    docker rm "$name" >/dev/null
}

case "${1:-build}" in
    build) build "${2:-}" ;;
    prebuilt) prebuilt "${2:-}" "${3:-}" ;;
    smoke) smoke "${2:-}" ;;
    stop) dockerd_stop ;;
    *) echo "usage: $0 build|prebuilt|smoke|stop" >&2; exit 2 ;;
esac
