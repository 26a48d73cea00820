#!/usr/bin/env bash
# CI: the real container. Builds docker/Dockerfile with the machine's podman, runs the image with
# host networking against the machine's PostgreSQL (a fresh database) and Redis (its own db),
# drives the API flow over HTTP, checks the health endpoints and HEALTHCHECK, the non-root user
# and the image size, runs the configuration of .env.example as compose.yml passes it (with a
# Redis that is then stopped: readiness 503, fail closed), runs the Postman collection with
# newman, runs the image's mail worker against a real SMTP server (aiosmtpd) and follows the
# mailed reset token, validates compose.yml against the Compose spec, and tears everything down
# on any exit.
#
# usage, from the repository root, with PostgreSQL on 127.0.0.1:5432 (user postgres, trust)
# and Redis on 127.0.0.1:6379 running:   bash .ci/container.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PODMAN=${PODMAN:-../shared/container/podman}
IMAGE=${IMAGE:-localhost/auth-service:ci}
IMAGE_SIZE_LIMIT_MB=${IMAGE_SIZE_LIMIT_MB:-500}
NEWMAN_VERSION=6.2.2
CHECK_JSONSCHEMA_VERSION=0.39.0
PYYAML_VERSION=6.0.3
PG=(-h 127.0.0.1 -p 5432 -U postgres)
# A Redis database of its own, emptied before and after (the tests use 15; 13 and 14 are
# taken by benchmarks and other local runs).
REDIS_DB=${CI_REDIS_DB:-12}
DB=auth_ci_$$
PASSWORD=Blue-Otter-Lamp-73

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/auth-ci.XXXXXX")
containers=()
db_created=false
scratch_redis_pid=
smtp_pid=

section() { printf '\n== container: %s  [%ss]\n' "$1" "$((SECONDS - started))"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
ok() { printf 'ok   %s\n' "$*"; }
pm() { "$PODMAN" "$@"; }
# The uv make uses: on PATH, in ~/.local/bin, or the one make bootstraps into .tools/ (Makefile).
uv_bin() { command -v uv || ls "$HOME/.local/bin/uv" 2>/dev/null || echo "$PWD/.tools/bin/uv"; }

teardown() {
  local rc=$? c
  set +e
  section "teardown"
  for c in "${containers[@]}"; do
    if [ "$rc" -ne 0 ]; then
      echo "--- last log lines of $c"
      pm logs --tail 40 "$c" 2>&1
    fi
    pm rm -f "$c" >/dev/null 2>&1 && echo "removed container $c"
  done
  [ -n "$scratch_redis_pid" ] && kill "$scratch_redis_pid" 2>/dev/null
  [ -n "$smtp_pid" ] && kill "$smtp_pid" 2>/dev/null
  if $db_created; then dropdb "${PG[@]}" --if-exists "$DB" && echo "dropped database $DB"; fi
  redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" flushdb >/dev/null
  rm -rf "$work"
  if [ "$rc" -eq 0 ]; then
    echo "container: passed in $((SECONDS - started))s"
  else
    echo "container: FAILED (exit $rc) after $((SECONDS - started))s" >&2
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a detached container named $1 with the remaining arguments; podman's complaint that
# it has no systemd to schedule health checks with is expected here and filtered out.
start_container() {
  local name=$1
  shift
  containers+=("$name")
  pm run -d --name "$name" --network host "$@" "$IMAGE" >/dev/null 2>"$work/run.err" ||
    fail "podman run $name: $(cat "$work/run.err")"
  grep -v 'systemd connection' "$work/run.err" >&2 || true
}

# Waits until $1/health/$2 answers 200, or fails when the container $3 stops or time runs out.
wait_for() {
  local base=$1 what=$2 name=$3
  for _ in $(seq 120); do
    curl -fsS -o /dev/null --max-time 2 "$base/health/$what" 2>/dev/null && return 0
    [ "$(pm inspect --format '{{.State.Running}}' "$name")" = true ] || fail "$name stopped"
    sleep 0.5
  done
  fail "$name: /health/$what did not answer 200 within 60s"
}

# http METHOD PATH [JSON] [BEARER]: sets $status; the body is in $work/body, headers in $work/headers.
http() {
  local args=(-sS -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 15 -X "$1")
  [ -n "${3-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  [ -n "${4-}" ] && args+=(-H "Authorization: Bearer $4")
  status=$(curl "${args[@]}" "$base$2")
}
expect() {
  [ "$status" = "$1" ] || fail "$2: expected HTTP $1, got $status: $(head -c 400 "$work/body")"
  ok "$2 -> $status"
}
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/body" "$1"; }
header() { sed -n "s/^$1: *//Ip" "$work/headers" | tr -d '\r' | head -1; }
credentials() { printf '{"email": "%s", "password": "%s"}' "$1" "$PASSWORD"; }

# ---------------------------------------------------------------------------------------------
section "build the image (docker/Dockerfile)"
old_image=$(pm image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
build_started=$SECONDS
# --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
pm build --network host --format docker -t "$IMAGE" -f docker/Dockerfile .
new_image=$(pm image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_image" ] && [ "$old_image" != "$new_image" ]; then
  pm rmi "$old_image" >/dev/null 2>&1 || true # the previous build, now untagged
fi
ok "built $IMAGE in $((SECONDS - build_started))s"

section "image: size, user, health check"
size=$(pm image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$((size / 1000 / 1000))
echo "image size: ${size_mb} MB ($size bytes; limit ${IMAGE_SIZE_LIMIT_MB} MB)"
[ "$size_mb" -le "$IMAGE_SIZE_LIMIT_MB" ] || fail "image is larger than ${IMAGE_SIZE_LIMIT_MB} MB"
user=$(pm image inspect --format '{{.Config.User}}' "$IMAGE")
case "${user%%:*}" in "" | 0 | root) fail "the image runs as root (User=\"$user\")" ;; esac
ok "image user: $user"
# The in-process token store is for the embedded default only: the image has no fake Redis.
if pm run --rm --entrypoint python "$IMAGE" -c "import fakeredis" >/dev/null 2>&1; then
  fail "the image ships fakeredis"
fi
ok "no fake Redis in the image"
pm image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" | grep -q 'health' ||
  fail "the image has no HEALTHCHECK"
ok "HEALTHCHECK: $(pm image inspect --format '{{join .Config.Healthcheck.Test " "}}' "$IMAGE")"

# ---------------------------------------------------------------------------------------------
section "run the image in production mode against PostgreSQL and Redis"
createdb "${PG[@]}" "$DB"
db_created=true
redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" flushdb >/dev/null
# A key set made by the image itself, as an operator would: manage.py jwtkeys generate.
JWT_KEYS=$(pm run --rm --network none "$IMAGE" jwtkeys generate 2>"$work/keys.err") ||
  fail "jwtkeys generate: $(cat "$work/keys.err")"
kid=$(printf '%s' "$JWT_KEYS" | python3 -c 'import json, sys; print(json.load(sys.stdin)["signing_kid"])')
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')
export JWT_KEYS SECRET_KEY
port=$(free_port)
base=http://127.0.0.1:$port
app=auth-ci-$$
# Secrets reach the container from this environment (-e NAME), not the command line. No TLS
# proxy in front here: production's HTTPS redirect and X-Forwarded-Proto trust are turned off,
# as docs/deployment.md says for that case.
start_container "$app" -e JWT_KEYS -e SECRET_KEY \
  -e APP_ENV=production -e ALLOWED_HOSTS=auth.ci.internal,127.0.0.1 \
  -e SECURE_SSL_REDIRECT=false -e TRUST_X_FORWARDED_PROTO=false \
  -e HOST=127.0.0.1 -e PORT="$port" -e WEB_CONCURRENCY=2 \
  -e DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  -e REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB" \
  -e RUN_MIGRATIONS=1 -e REFRESH_REUSE_GRACE=0
wait_for "$base" ready "$app"
ok "ready on $base (migrations applied by the entrypoint, RUN_MIGRATIONS=1)"

section "non-root user, health endpoints, HEALTHCHECK"
uid=$(pm exec "$app" id -u)
[ "$uid" != 0 ] || fail "the service runs as root"
ok "the service runs as uid $uid"
http GET /health/live
expect 200 "GET /health/live"
http GET /health/ready
expect 200 "GET /health/ready"
[ "$(field checks)" = "{'database': 'ok', 'token_store': 'ok', 'signing_keys': 'ok'}" ] || fail "ready: $(cat "$work/body")"
# The HEALTHCHECK sends the first ALLOWED_HOSTS name (auth.ci.internal) as Host.
pm healthcheck run "$app" 2>/dev/null || fail "HEALTHCHECK failed on a healthy service"
ok "HEALTHCHECK passes: $(pm inspect --format '{{.State.Health.Status}}' "$app")"
http GET /.well-known/jwks.json
expect 200 "GET /.well-known/jwks.json"
grep -q "\"$kid\"" "$work/body" || fail "jwks does not publish the configured key $kid"
if grep -q '"d"' "$work/body"; then fail "jwks leaks a private key member"; fi
ok "jwks publishes the configured key $kid, public parts only"

section "API flow over HTTP"
email="ci-$$-$RANDOM@example.com"
http POST /api/register/ "$(credentials "$email")"
expect 201 "POST /api/register/"
[ "$(field email)" = "$email" ] || fail "register answered another email"
http POST /api/token/ "$(credentials "$email")"
expect 200 "POST /api/token/"
[ "$(field token_type)" = Bearer ] || fail "token_type is not Bearer"
[ "$(field expires_in)" -gt 0 ] || fail "expires_in is not positive"
header Cache-Control | grep -q no-store || fail "token response is cacheable"
access1=$(field access)
refresh1=$(field refresh)
http GET /api/me/ "" "$access1"
expect 200 "GET /api/me/"
[ "$(field email)" = "$email" ] || fail "me answered another user"
http GET /api/me/
expect 401 "GET /api/me/ without a token"
header WWW-Authenticate | grep -q 'Bearer' || fail "401 without WWW-Authenticate: Bearer"
http POST /api/token/refresh/ "{\"refresh\": \"$refresh1\"}"
expect 200 "POST /api/token/refresh/"
access2=$(field access)
refresh2=$(field refresh)
[ "$refresh2" != "$refresh1" ] || fail "refresh did not rotate the refresh token"
http GET /api/me/ "" "$access2"
expect 200 "GET /api/me/ with the rotated access token"
http POST /api/token/refresh/ "{\"refresh\": \"$refresh1\"}"
expect 401 "replay of the used refresh token"
[ "$(field code)" = token_reused ] || fail "replay: code is $(field code), not token_reused"
ok "replay detected: code token_reused"
http GET /api/me/ "" "$access2"
expect 401 "access token of the session ended by the replay"
http POST /api/token/refresh/ "{\"refresh\": \"$refresh2\"}"
expect 401 "newest refresh token of the session ended by the replay"
http POST /api/token/ "$(credentials "$email")"
expect 200 "POST /api/token/ (a new session)"
access3=$(field access)
refresh3=$(field refresh)
http POST /api/logout/ "{\"refresh\": \"$refresh3\"}"
if [ "$status" = 404 ]; then
  echo "skip POST /api/logout/ answered 404: logout is not deployed"
else
  expect 204 "POST /api/logout/"
  http GET /api/me/ "" "$access3"
  expect 401 "access token after logout"
  http POST /api/token/refresh/ "{\"refresh\": \"$refresh3\"}"
  expect 401 "refresh token after logout"
fi

section "Postman collection (newman $NEWMAN_VERSION)"
command -v npm >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
}
npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$work/newman" \
  "newman@$NEWMAN_VERSION" >/dev/null
"$work/newman/node_modules/.bin/newman" run docs/postman/auth-service.postman_collection.json \
  -e docs/postman/local.postman_environment.json --env-var "baseUrl=$base" --color off \
  --reporters cli --reporter-cli-no-banner

section "mail: the image's worker (db_worker) sends through a real SMTP server"
# aiosmtpd (a dev dependency, in .venv since make test) prints every mail it receives; the
# worker runs from the same image as the service, as compose.yml's `worker` does.
sport=$(free_port)
.venv/bin/python -u -m aiosmtpd -n -l "127.0.0.1:$sport" >"$work/smtp.log" 2>&1 &
smtp_pid=$!
worker=auth-ci-worker-$$
containers+=("$worker")
pm run -d --name "$worker" --network host -e JWT_KEYS -e SECRET_KEY \
  -e APP_ENV=production -e ALLOWED_HOSTS=auth.ci.internal,127.0.0.1 \
  -e DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  -e REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB" \
  -e EMAIL_HOST=127.0.0.1 -e EMAIL_PORT="$sport" -e FRONTEND_URL=https://app.ci.internal \
  "$IMAGE" db_worker >/dev/null 2>"$work/run.err" || fail "podman run $worker: $(cat "$work/run.err")"
email="ci-mail-$$-$RANDOM@example.com"
http POST /api/register/ "$(credentials "$email")"
expect 201 "POST /api/register/ (queues a verification mail)"
http POST /api/password/reset/ "{\"email\": \"$email\"}"
expect 202 "POST /api/password/reset/"
for _ in $(seq 120); do grep -q "Subject: Reset your password" "$work/smtp.log" && break; sleep 0.5; done
grep -q "Subject: Confirm your email address" "$work/smtp.log" || fail "no verification mail: $(tail -c 600 "$work/smtp.log")"
grep -q "Subject: Reset your password" "$work/smtp.log" || fail "no reset mail: $(tail -c 600 "$work/smtp.log")"
ok "the worker mailed the verification and the reset"
reset_token=$(grep -o 'reset-password?token=[A-Za-z0-9_-]*' "$work/smtp.log" | tail -1 | cut -d= -f2)
http POST /api/password/reset/confirm/ "{\"token\": \"$reset_token\", \"new_password\": \"Green-Heron-Desk-58\"}"
expect 200 "POST /api/password/reset/confirm/ with the mailed token"
http POST /api/token/ "{\"email\": \"$email\", \"password\": \"Green-Heron-Desk-58\"}"
expect 200 "POST /api/token/ with the new password"
kill "$smtp_pid" 2>/dev/null || true
smtp_pid=

section "the service's log: no tracebacks, no secrets"
pm logs "$app" >"$work/app.log" 2>&1
if grep -q Traceback "$work/app.log"; then
  fail "the service logged a traceback: $(grep -A20 Traceback "$work/app.log" | head -40)"
fi
for secret in "$PASSWORD" "$refresh1" "$access1" "$SECRET_KEY" "$reset_token"; do
  if grep -qF -- "$secret" "$work/app.log"; then fail "the service logged a password, token or secret"; fi
done
ok "$(wc -l <"$work/app.log") log lines: no traceback, no password, token or secret"
# After the log check: Django logs a refused Host with its traceback.
status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Host: elsewhere.example' "$base/health/live")
expect 400 "a Host outside ALLOWED_HOSTS (production)"

# ---------------------------------------------------------------------------------------------
section "compose configuration (.env.example as compose.yml passes it), then Redis down"
# compose.yml runs the service with env_file .env (a copy of .env.example) and overrides
# DATABASE_URL, REDIS_URL, ALLOWED_HOSTS, HOST, PORT and STATE_DIR; the same here, with the
# addresses of this machine: development mode, the generated development key.
command -v redis-server >/dev/null || fail "redis-server is not installed"
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
scratch_redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
port=$(free_port)
base=http://127.0.0.1:$port
dev=auth-ci-dev-$$
start_container "$dev" --env-file .env.example \
  -e DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  -e REDIS_URL="redis://127.0.0.1:$rport/0" -e ALLOWED_HOSTS=localhost,127.0.0.1,auth \
  -e HOST=127.0.0.1 -e PORT="$port" -e STATE_DIR=/app/var
wait_for "$base" ready "$dev"
ok "ready with .env.example (APP_ENV=$(sed -n 's/^APP_ENV=//p' .env.example))"
email="ci-dev-$$-$RANDOM@example.com"
http POST /api/register/ "$(credentials "$email")"
expect 201 "POST /api/register/"
http POST /api/token/ "$(credentials "$email")"
expect 200 "POST /api/token/ (signed with the generated development key)"
access=$(field access)
http GET /api/me/ "" "$access"
expect 200 "GET /api/me/"
kill "$scratch_redis_pid"
wait "$scratch_redis_pid" 2>/dev/null || true
scratch_redis_pid=
http GET /health/ready
expect 503 "GET /health/ready with Redis stopped"
[ -n "$(header Retry-After)" ] || fail "503 without Retry-After"
http GET /health/live
expect 200 "GET /health/live with Redis stopped"
http GET /api/me/ "" "$access"
expect 503 "GET /api/me/ with Redis stopped (fail closed)"
http POST /api/token/ "$(credentials "$email")"
expect 503 "POST /api/token/ with Redis stopped (nothing issued)"
if pm healthcheck run "$dev" >/dev/null 2>&1; then fail "HEALTHCHECK passed with Redis down"; fi
ok "HEALTHCHECK fails with Redis down"

# ---------------------------------------------------------------------------------------------
section "compose.yml: Compose spec schema and structure"
uv=$(uv_bin)
"$uv" tool run --quiet --from "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" \
  check-jsonschema --builtin-schema vendor.compose-spec compose.yml
"$uv" run --quiet --no-project --with "pyyaml==$PYYAML_VERSION" python - <<'PY'
"""What the issue asks of compose.yml, beyond the schema."""
import re
import sys
from pathlib import Path

import yaml

text = Path("compose.yml").read_text()
spec = yaml.safe_load(text)
services, volumes = spec["services"], spec.get("volumes") or {}
problems = []
for name in ("auth", "postgres", "redis"):
    if name not in services:
        problems.append(f"no service {name}")
for name in ("auth", "postgres", "redis"):
    if not (services.get(name) or {}).get("healthcheck", {}).get("test"):
        problems.append(f"{name} has no health check")
auth = services.get("auth") or {}
build = auth.get("build") or {}
if build.get("dockerfile") != "docker/Dockerfile" or not Path("docker/Dockerfile").is_file():
    problems.append("auth is not built from docker/Dockerfile")
depends = auth.get("depends_on") or {}
for name in ("postgres", "redis"):
    if (depends.get(name) or {}).get("condition") != "service_healthy":
        problems.append(f"auth does not wait for {name} to be healthy")
env_files = auth.get("env_file") or []
env_files = [env_files] if isinstance(env_files, str) else env_files
if ".env" not in [e if isinstance(e, str) else e.get("path") for e in env_files]:
    problems.append("auth does not read .env")
env = auth.get("environment") or {}
if "@postgres:" not in env.get("DATABASE_URL", ""):
    problems.append("DATABASE_URL does not point at the postgres service")
if not env.get("REDIS_URL", "").startswith("redis://redis:"):
    problems.append("REDIS_URL does not point at the redis service")
command = " ".join(services.get("redis", {}).get("command") or [])
for flag in ("--appendonly yes", "--maxmemory-policy noeviction"):
    if flag not in command:
        problems.append(f"redis runs without {flag}")
for name, service in services.items():
    for mount in service.get("volumes") or []:
        source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source")
        if source and not source.startswith((".", "/", "~")) and source not in volumes:
            problems.append(f"{name} mounts the undeclared volume {source}")
    if service.get("image", "").startswith(("postgres", "redis")) and not service.get("volumes"):
        problems.append(f"{name} keeps its data in no volume")
# Every variable compose.yml reads from .env must be documented in .env.example.
documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", Path(".env.example").read_text(), re.M))
for name in sorted(set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text)) - documented):
    problems.append(f"compose.yml reads {name}, which .env.example does not document")
if problems:
    sys.exit("compose.yml: " + "; ".join(problems))
print(f"ok   compose.yml: services {', '.join(services)}; volumes {', '.join(volumes)}")
PY
