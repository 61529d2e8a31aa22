#!/usr/bin/env bash
# deploy/compose.yaml brought up for real on this machine (Debian's Docker engine, Compose v5
# from PyPI), checked through the gateway, and taken down:
#
#   scripts/deploy-local.sh up      build what is missing, `compose up --wait`, print the URL
#   scripts/deploy-local.sh smoke   through the gateway: register, sign in, create a task, read it
#                                   back; every workbench container healthy
#   scripts/deploy-local.sh down    `compose down -v`
#
# workbench:dev comes from `make image` (or, when it is missing, `scripts/image.sh prebuilt` around
# target/release/workbench or target/debug/workbench). postgres:15, redis:7, nats:2 and
# nginx:1.27 cannot be pulled here: stand-ins are built from Debian's packages under those
# names (apt over --network host), so the compose file is the one used anywhere.
. "$(dirname "$0")/deploy/lib.sh"
cd "$ROOT"
PORT=${GATEWAY_PORT:-8080}
URL=http://127.0.0.1:$PORT
ENV_FILE=$WORK/compose.env

standins() {
    local s=$WORK/standins
    if ! docker image inspect localhost/standin-base >/dev/null 2>&1; then
        mkdir -p "$s"
        cat >"$s/Dockerfile" <<'EOT'
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 redis-server nats-server \
    nginx-light curl ca-certificates && rm -rf /var/lib/apt/lists/*
EOT
        step "stand-in base (apt: postgresql-15 redis-server nats-server nginx-light)" \
            sh -c "timeout 900 $NICE /usr/bin/docker build -q --network host -t localhost/standin-base '$s' >/dev/null"
    fi
    docker image inspect postgres:15 >/dev/null 2>&1 || {
        mkdir -p "$s/pg"
        # The official image's contract, as far as compose.yaml uses it: POSTGRES_USER,
        # POSTGRES_PASSWORD and POSTGRES_DB on first start, data in /var/lib/postgresql/data.
        cat >"$s/pg/entrypoint.sh" <<'EOT'
#!/bin/bash
set -e
export PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres} db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U "$user" --pwfile=<(echo "${POSTGRES_PASSWORD:-postgres}") \
         --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  [ "$db" = postgres ] || createdb -U "$user" -h /var/run/postgresql "$db"
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
EOT
        cat >"$s/pg/Dockerfile" <<'EOT'
FROM localhost/standin-base
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
USER postgres
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
EOT
        docker build -q -t postgres:15 "$s/pg" >/dev/null
    }
    docker image inspect redis:7 >/dev/null 2>&1 ||
        printf 'FROM localhost/standin-base\nUSER redis\nEXPOSE 6379\nCMD ["redis-server", "--protected-mode", "no", "--bind", "0.0.0.0", "--save", "", "--appendonly", "no"]\n' |
        docker build -q -t redis:7 - >/dev/null
    docker image inspect nats:2 >/dev/null 2>&1 ||
        printf 'FROM localhost/standin-base\nUSER nobody\nEXPOSE 4222\nENTRYPOINT ["nats-server"]\nCMD ["-js", "-sd", "/tmp/nats", "-a", "0.0.0.0", "-p", "4222"]\n' |
        docker build -q -t nats:2 - >/dev/null
    docker image inspect nginx:1.27 >/dev/null 2>&1 ||
        printf 'FROM localhost/standin-base\nEXPOSE 80\nSTOPSIGNAL SIGQUIT\nCMD ["nginx", "-g", "daemon off;"]\n' |
        docker build -q -t nginx:1.27 - >/dev/null
}

compose() { "$DC" --env-file "$ENV_FILE" -f deploy/compose.yaml -p workbench "$@"; }

up() {
    dockerd_start
    ensure_compose
    ensure_docker_base
    step "stand-ins postgres:15 redis:7 nats:2 nginx:1.27" standins
    if ! docker image inspect "${WORKBENCH_IMAGE:-workbench:dev}" >/dev/null 2>&1; then
        local bin=target/release/workbench
        [ -x "$bin" ] || bin=target/debug/workbench
        echo "workbench:dev is missing (make image builds it): wrapping $bin instead"
        scripts/image.sh prebuilt "$bin" "${WORKBENCH_IMAGE:-workbench:dev}"
    fi
    if [ ! -s "$ENV_FILE" ]; then
        printf 'JWT_SECRET=%s\nPOSTGRES_PASSWORD=%s\nGATEWAY_PORT=%s\nPUBLIC_URL=%s\n' \
            "$(openssl rand -hex 32)" "$(openssl rand -hex 12)" "$PORT" "$URL" >"$ENV_FILE"
        chmod 600 "$ENV_FILE"
    fi
    step "docker compose config --quiet" compose config --quiet
    step "docker compose up -d --wait" sh -c "timeout 600 $0 _compose up -d --wait --wait-timeout 300 >'$WORK/compose-up.log' 2>&1" ||
        { tail -n 30 "$WORK/compose-up.log"; compose ps; return 1; }
    compose ps --format 'table {{.Service}}\t{{.Status}}'
    log "Workbench is up at $URL (through the gateway; e.g. curl $URL/api/v1/products)"
}

smoke() {
    dockerd_start
    ensure_compose
    local user=compose$$ token task
    curl -fsS -o /dev/null -w 'register: %{http_code}\n' -H 'Content-Type: application/json' \
        -d "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"correct horse battery\"}" \
        "$URL/api/v1/auth/register"
    token=$(curl -fsS -H 'Content-Type: application/json' \
        -d "{\"email\":\"$user@example.com\",\"password\":\"correct horse battery\"}" "$URL/api/v1/auth/login" | jq -r .access_token)
    task=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d '{"title":"Composed"}' "$URL/api/v1/tasks" | jq -r .id)
    echo "created task $task"
    # Read back several times: the two api replicas answer in turn.
    for _ in 1 2 3 4; do
        curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$URL/api/v1/tasks/$task"
    done
    curl -fsS -o /dev/null -w 'profile: %{http_code}\n' -H "Authorization: Bearer $token" "$URL/api/v1/users/me"
    local unhealthy
    unhealthy=$(docker ps --filter label=com.docker.compose.project=workbench --format '{{.Names}} {{.Status}}' | grep -v healthy | grep -Ev 'nats' || true)
    [ -z "$unhealthy" ] || { echo "not healthy: $unhealthy"; return 1; }
    echo "every container with a health check is healthy"
}

down() {
    ensure_compose
    [ -S "$DOCKERD_DIR/docker.sock" ] || return 0
    dockerd_start
    step "docker compose down -v" sh -c "timeout 300 $0 _compose down -v -t 40 >/dev/null 2>&1"
}

case "${1:-up}" in
    up) up ;;
    smoke) step "smoke test through the gateway $URL" smoke ;;
    down) down ;;
    _compose) shift; dockerd_start; ensure_compose; compose "$@" ;;
    *) echo "usage: $0 up|smoke|down" >&2; exit 2 ;;
esac
