#!/usr/bin/env bash
# The local stack: a Temporal dev server (SQLite, Web UI), MinIO and an MLflow server, all on 127.0.0.1.
#   scripts/stack.sh up [--with-worker]
#                             build what is missing, start what is not running, wait until healthy;
#                             with --with-worker also a worker (`onnx-export worker`) in the background
#   scripts/stack.sh down     stop exactly the processes `up` started (by their pid files)
#   scripts/stack.sh status   one line per service
# Logs, pid files and data go to one state folder ($ONNX_EXPORT_STATE_DIR, default .state/ in the clone).
#
# STACK_SECURED=1 makes the same stack secured, for the tests that prove the pipeline works against one:
# test certificates in $STATE/tls (scripts/lib/stack-tls.sh); MinIO over TLS only, with credentials that
# must not be the defaults; MLflow's basic-auth app (no permissions by default, a random admin password,
# a non-admin pipeline user) behind a TLS proxy; Temporal's clients reach it only through that proxy
# (haproxy), with mutual TLS on TEMPORAL_TLS_PORT. The dev server's own plain port stays on loopback for
# this script's admin calls. Secrets go to $STATE/secrets.env (0600), never to stack.env or the logs.
# The folder remembers that it holds a secured stack, so `status` and `down` need no flag.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PID_DIR="$STACK_STATE_DIR/pids"
LOG_DIR="$STACK_STATE_DIR/logs"
HEALTH_TIMEOUT_S="${STACK_HEALTH_TIMEOUT_S:-120}"
SERVICES=(temporal minio mlflow)

SECURED_MARKER="$STACK_STATE_DIR/secured"
if [[ "${1:-}" != up && -f "$SECURED_MARKER" ]]; then STACK_SECURED=1; fi
STACK_SECURED="${STACK_SECURED:-0}"
secured() { [[ "$STACK_SECURED" == 1 ]]; }
TLS_DIR="$STACK_STATE_DIR/tls"
SECRETS_ENV="$STACK_STATE_DIR/secrets.env"
# Secured mode only: the proxy's public TLS port for Temporal, and MLflow's private plain port behind
# the proxy (MLFLOW_PORT is then the proxy's TLS port).
TEMPORAL_TLS_PORT="${TEMPORAL_TLS_PORT:-7234}"
MLFLOW_BACKEND_PORT="${MLFLOW_BACKEND_PORT:-5001}"
MLFLOW_ADMIN_USERNAME="admin"
MLFLOW_PIPELINE_USERNAME="onnx-export-pipeline"
# haproxy last: `down` stops in reverse order, so the proxy goes before what it fronts.
if secured; then SERVICES=(temporal minio mlflow haproxy); fi

pid_of() { local f="$PID_DIR/$1.pid"; [[ -f "$f" ]] && cat "$f" || true; }

# True when the pid in the service's pid file is alive and still runs that service's binary
# (a reused pid belonging to something else is not ours to report or kill).
is_running() {
  local name="$1" pid; pid="$(pid_of "$name")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$(marker_of "$name")"
}

marker_of() {
  case "$1" in
    temporal) echo "start-dev" ;;
    minio) echo "minio server" ;;
    mlflow) echo "mlflow" ;;
    worker) echo "onnx-export.js worker" ;;
    haproxy) echo "haproxy -db" ;;
  esac
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_port() {
  local port="$1" what="$2" var="$3"
  if port_in_use "$port"; then
    local owner; owner="$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\),pid=\([0-9]*\).*/\1 pid \2/p' | head -1)"
    die "port $port ($what) is already in use${owner:+ by $owner}; stop it or choose another port with $var=..."
  fi
}

# Starts a command in its own session (so `down` can stop its whole process group) and records its pid.
launch() {
  local name="$1"; shift
  mkdir -p "$PID_DIR" "$LOG_DIR"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$PID_DIR/$name.pid"
}

wait_healthy() {
  local name="$1" check="$2" deadline=$((SECONDS + HEALTH_TIMEOUT_S))
  until eval "$check" >/dev/null 2>&1; do
    if ! is_running "$name"; then
      tail -25 "$LOG_DIR/$name.log" >&2 || true
      die "$name exited during start-up (log: $LOG_DIR/$name.log)"
    fi
    if ((SECONDS > deadline)); then
      tail -25 "$LOG_DIR/$name.log" >&2 || true
      die "$name did not become healthy within ${HEALTH_TIMEOUT_S}s (log: $LOG_DIR/$name.log)"
    fi
    sleep 0.5
  done
}

temporal_health() { "$(temporal_bin)" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" | grep -q SERVING; }
minio_health() {
  if secured; then curl -fsS --cacert "$TLS_DIR/ca.pem" "https://127.0.0.1:$MINIO_PORT/minio/health/live"
  else curl -fsS "http://127.0.0.1:$MINIO_PORT/minio/health/live"; fi
}
# Secured: through the proxy, as the pipeline sees it (/health needs no login).
mlflow_health() {
  if secured; then curl -fsS --cacert "$TLS_DIR/ca.pem" "https://127.0.0.1:$MLFLOW_PORT/health"
  else curl -fsS "http://127.0.0.1:$MLFLOW_PORT/health"; fi
}
# The proxy is healthy when a client with the stack's certificate reaches Temporal through it.
haproxy_health() {
  "$(temporal_bin)" operator cluster health --address "127.0.0.1:$TEMPORAL_TLS_PORT" \
    --tls-ca-path "$TLS_DIR/ca.pem" --tls-cert-path "$TLS_DIR/client.pem" --tls-key-path "$TLS_DIR/client-key.pem" \
    | grep -q SERVING
}

SEARCH_ATTRIBUTES=(ModelName OnnxSha256 TrainingRunId ExportStage)

start_temporal() {
  ensure_go_tool temporal "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" "$(temporal_bin)"
  if is_running temporal; then
    log "temporal already running (pid $(pid_of temporal))"; ensure_search_attributes; return
  fi
  require_free_port "$TEMPORAL_PORT" "Temporal frontend" TEMPORAL_PORT
  require_free_port "$TEMPORAL_UI_PORT" "Temporal Web UI" TEMPORAL_UI_PORT
  require_free_port "$TEMPORAL_HTTP_PORT" "Temporal HTTP API" TEMPORAL_HTTP_PORT
  require_free_port "$TEMPORAL_METRICS_PORT" "Temporal metrics" TEMPORAL_METRICS_PORT
  mkdir -p "$STACK_STATE_DIR/temporal"
  local sa_flags=()
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do sa_flags+=(--search-attribute "$sa=Keyword"); done
  log "starting temporal on 127.0.0.1:$TEMPORAL_PORT (Web UI :$TEMPORAL_UI_PORT)"
  launch temporal "$(temporal_bin)" server start-dev \
    --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-ip 127.0.0.1 --ui-port "$TEMPORAL_UI_PORT" \
    --http-port "$TEMPORAL_HTTP_PORT" --metrics-port "$TEMPORAL_METRICS_PORT" \
    --db-filename "$STACK_STATE_DIR/temporal/temporal.db" --log-level warn "${sa_flags[@]}"
  wait_healthy temporal temporal_health
  ensure_search_attributes
}

# start-dev registers the attributes on a fresh database; against an existing file we verify them
# and add any that are missing, so a restart never leaves the namespace without them.
ensure_search_attributes() {
  local listed; listed="$("$(temporal_bin)" operator search-attribute list --address "127.0.0.1:$TEMPORAL_PORT" 2>&1)" \
    || die "could not list Temporal search attributes: $listed"
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    if ! grep -qw "$sa" <<<"$listed"; then
      "$(temporal_bin)" operator search-attribute create --address "127.0.0.1:$TEMPORAL_PORT" --name "$sa" --type Keyword >/dev/null \
        || die "could not register search attribute $sa"
    fi
  done
}

start_minio() {
  ensure_go_tool minio "github.com/minio/minio@$MINIO_VERSION" "$(minio_bin)"
  local scheme=http tls_flags=()
  if secured; then
    scheme=https
    # MinIO reads its certificate from a folder of fixed names; CAs/ is what it trusts for its own calls.
    local certs="$STACK_STATE_DIR/minio-certs"
    mkdir -p "$certs/CAs"; chmod 0700 "$certs"
    cp "$TLS_DIR/server.pem" "$certs/public.crt"
    (umask 077 && cp "$TLS_DIR/server-key.pem" "$certs/private.key")
    cp "$TLS_DIR/ca.pem" "$certs/CAs/ca.pem"
    tls_flags=(--certs-dir "$certs")
  fi
  if is_running minio; then
    log "minio already running (pid $(pid_of minio))"
  else
    require_free_port "$MINIO_PORT" "MinIO S3 API" MINIO_PORT
    require_free_port "$MINIO_CONSOLE_PORT" "MinIO console" MINIO_CONSOLE_PORT
    mkdir -p "$STACK_STATE_DIR/minio-data"
    log "starting minio on 127.0.0.1:$MINIO_PORT (console :$MINIO_CONSOLE_PORT)${tls_flags[*]:+ over TLS}"
    MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY" MINIO_BROWSER_REDIRECT=off \
      launch minio "$(minio_bin)" server "$STACK_STATE_DIR/minio-data" \
        --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet "${tls_flags[@]}"
    wait_healthy minio minio_health
  fi
  local ca_bundle=""; if secured; then ca_bundle="$TLS_DIR/ca.pem"; fi
  AWS_CA_BUNDLE="$ca_bundle" node "$PROJECT_ROOT/scripts/lib/ensure-buckets.js" "$scheme://127.0.0.1:$MINIO_PORT" \
    "$ONNX_EXPORT_BUCKET" "$ONNX_EXPORT_CHECKPOINT_BUCKET" "$MLFLOW_ARTIFACT_BUCKET" \
    || die "could not create the buckets in MinIO"
}

start_mlflow() {
  if secured; then start_mlflow_secured; return; fi
  local venv; venv="$(bash "$PROJECT_ROOT/scripts/ensure-python-venv.sh")"
  if is_running mlflow; then log "mlflow already running (pid $(pid_of mlflow))"; return; fi
  require_free_port "$MLFLOW_PORT" "MLflow tracking server" MLFLOW_PORT
  mkdir -p "$STACK_STATE_DIR/mlflow"
  log "starting mlflow on 127.0.0.1:$MLFLOW_PORT"
  # The registry is all we use: MLflow's background job runner (a dozen huey worker processes) stays off.
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
  MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$MINIO_PORT" AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
  AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    launch mlflow "$venv/bin/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
      --backend-store-uri "sqlite:///$STACK_STATE_DIR/mlflow/mlflow.db" \
      --artifacts-destination "s3://$MLFLOW_ARTIFACT_BUCKET/"
  wait_healthy mlflow mlflow_health
}

# A random secret: 32 hex characters (no quoting trouble in env files, and over MLflow's 12-character minimum).
random_secret() { openssl rand -hex 16; }

# The secured stack's secrets, made once and kept: the admin password only takes effect when MLflow's
# auth database is created, so a restart must present the same one. secrets.env is what the pipeline
# (and the tests) read; server.env holds what only the MLflow server needs.
ensure_secrets() {
  if [[ ! -s "$SECRETS_ENV" ]]; then
    (umask 077 && cat >"$SECRETS_ENV" <<ENV
MLFLOW_TRACKING_PASSWORD=$(random_secret)
MLFLOW_ADMIN_USERNAME=$MLFLOW_ADMIN_USERNAME
MLFLOW_ADMIN_PASSWORD=$(random_secret)
ENV
    )
  fi
  chmod 0600 "$SECRETS_ENV"
  # Its auth database holds the users' password hashes: for this account only.
  mkdir -p "$STACK_STATE_DIR/mlflow"; chmod 0700 "$STACK_STATE_DIR/mlflow"
  if [[ ! -s "$STACK_STATE_DIR/mlflow/server.env" ]]; then
    (umask 077 && echo "MLFLOW_FLASK_SERVER_SECRET_KEY=$(random_secret)" >"$STACK_STATE_DIR/mlflow/server.env")
  fi
}

# Reads one KEY=value from an env file without sourcing it (nothing in it is executed).
env_value() { sed -n "s/^$2=//p" "$1" | tail -1; }

start_mlflow_secured() {
  local venv; venv="$(bash "$PROJECT_ROOT/scripts/ensure-python-venv.sh")"
  ensure_secrets
  if is_running mlflow; then
    log "mlflow already running (pid $(pid_of mlflow))"
  else
    require_free_port "$MLFLOW_BACKEND_PORT" "MLflow's private port behind the TLS proxy" MLFLOW_BACKEND_PORT
    local auth_ini="$STACK_STATE_DIR/mlflow/basic_auth.ini"
    # No permission unless granted: a user sees only what it created or was given.
    cat >"$auth_ini" <<INI
[mlflow]
default_permission = NO_PERMISSIONS
database_uri = sqlite:///$STACK_STATE_DIR/mlflow/basic_auth.db
admin_username = $MLFLOW_ADMIN_USERNAME
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
# Each password check is a deliberately slow PBKDF2 hash (about 1 s here), paid on every request without
# this cache. One worker, so a password change through the API is seen at once; only successes are cached.
auth_cache_ttl_seconds = 300
INI
    log "starting mlflow (basic auth) on 127.0.0.1:$MLFLOW_BACKEND_PORT, served over TLS on 127.0.0.1:$MLFLOW_PORT"
    # The admin password and the CSRF key reach the server through its environment only, never its
    # command line. MinIO is https now: boto3 verifies it against the stack's CA (AWS_CA_BUNDLE).
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    MLFLOW_AUTH_CONFIG_PATH="$auth_ini" \
    MLFLOW_AUTH_ADMIN_PASSWORD="$(env_value "$SECRETS_ENV" MLFLOW_ADMIN_PASSWORD)" \
    MLFLOW_FLASK_SERVER_SECRET_KEY="$(env_value "$STACK_STATE_DIR/mlflow/server.env" MLFLOW_FLASK_SERVER_SECRET_KEY)" \
    MLFLOW_S3_ENDPOINT_URL="https://127.0.0.1:$MINIO_PORT" AWS_CA_BUNDLE="$TLS_DIR/ca.pem" \
    AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
      launch mlflow "$venv/bin/mlflow" server --app-name basic-auth \
        --host 127.0.0.1 --port "$MLFLOW_BACKEND_PORT" --workers 1 \
        --backend-store-uri "sqlite:///$STACK_STATE_DIR/mlflow/mlflow.db" \
        --artifacts-destination "s3://$MLFLOW_ARTIFACT_BUCKET/"
    wait_healthy mlflow mlflow_health
  fi
  ensure_pipeline_user
}

# The pipeline's own non-admin MLflow user (scripts/lib/ensure-mlflow-user.js says what it is granted).
ensure_pipeline_user() {
  MLFLOW_URL="https://127.0.0.1:$MLFLOW_PORT" MLFLOW_CA="$TLS_DIR/ca.pem" \
  MLFLOW_ADMIN_USERNAME="$MLFLOW_ADMIN_USERNAME" \
  MLFLOW_ADMIN_PASSWORD="$(env_value "$SECRETS_ENV" MLFLOW_ADMIN_PASSWORD)" \
  MLFLOW_PIPELINE_USERNAME="$MLFLOW_PIPELINE_USERNAME" \
  MLFLOW_PIPELINE_PASSWORD="$(env_value "$SECRETS_ENV" MLFLOW_TRACKING_PASSWORD)" \
    node "$PROJECT_ROOT/scripts/lib/ensure-mlflow-user.js" || die "could not set up MLflow's pipeline user"
}

haproxy_bin() { command -v haproxy || echo /usr/sbin/haproxy; }

# The TLS front of the secured stack. TCP mode: gRPC's HTTP/2 passes through untouched to the dev
# server (which speaks h2c), and MLflow's HTTP/1.1 to its private port. Temporal's long polls hold a
# request for about 70 s, so the idle timeouts are far longer than that.
start_haproxy() {
  [[ -x "$(haproxy_bin)" ]] || die "haproxy is not installed (scripts/setup.sh installs it)"
  if is_running haproxy; then
    log "haproxy already running (pid $(pid_of haproxy))"; wait_healthy haproxy haproxy_health; return
  fi
  require_free_port "$TEMPORAL_TLS_PORT" "Temporal over TLS" TEMPORAL_TLS_PORT
  require_free_port "$MLFLOW_PORT" "MLflow over TLS" MLFLOW_PORT
  mkdir -p "$STACK_STATE_DIR/haproxy"
  local cfg="$STACK_STATE_DIR/haproxy/haproxy.cfg"
  cat >"$cfg" <<CFG
global
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
  mode tcp
  timeout connect 5s
  timeout client 10m
  timeout server 10m
  timeout client-fin 30s
  timeout server-fin 30s

# Mutual TLS: only a client certificate signed by the stack's CA gets through.
frontend temporal_tls
  bind 127.0.0.1:$TEMPORAL_TLS_PORT ssl crt $TLS_DIR/server-bundle.pem ca-file $TLS_DIR/ca.pem verify required alpn h2
  default_backend temporal_dev_server

backend temporal_dev_server
  server dev 127.0.0.1:$TEMPORAL_PORT

# Server TLS only: MLflow's own basic auth decides who may do what.
frontend mlflow_tls
  bind 127.0.0.1:$MLFLOW_PORT ssl crt $TLS_DIR/server-bundle.pem alpn http/1.1
  default_backend mlflow_server

backend mlflow_server
  server mlflow 127.0.0.1:$MLFLOW_BACKEND_PORT
CFG
  "$(haproxy_bin)" -c -q -f "$cfg" || die "haproxy rejected its configuration ($cfg)"
  log "starting haproxy: Temporal over mTLS on 127.0.0.1:$TEMPORAL_TLS_PORT, MLflow over TLS on 127.0.0.1:$MLFLOW_PORT"
  launch haproxy "$(haproxy_bin)" -db -f "$cfg"
  wait_healthy haproxy haproxy_health
}

start_worker() {
  if is_running worker; then log "worker already running (pid $(pid_of worker))"; return; fi
  [[ -f "$PROJECT_ROOT/dist/client/cli.js" ]] || die "worker: dist/ is not built; run scripts/setup.sh (or npm ci) first"
  log "starting a worker (log: $LOG_DIR/worker.log)"
  if secured; then
    # stack.env holds no secrets: the worker's MLflow password comes from secrets.env, by environment.
    MLFLOW_TRACKING_PASSWORD="$(env_value "$SECRETS_ENV" MLFLOW_TRACKING_PASSWORD)" \
    ONNX_EXPORT_STATE_DIR="$STACK_STATE_DIR" launch worker node "$PROJECT_ROOT/bin/onnx-export.js" worker
  else
    ONNX_EXPORT_STATE_DIR="$STACK_STATE_DIR" launch worker node "$PROJECT_ROOT/bin/onnx-export.js" worker
  fi
  wait_healthy worker "grep -q 'worker polling' '$LOG_DIR/worker.log'"
}

# The endpoints of this stack, for the CLI, the worker and the tests (read when the environment is silent).
write_stack_env() {
  if secured; then write_secured_stack_env; return; fi
  cat >"$STACK_STATE_DIR/stack.env" <<ENV
TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT
TEMPORAL_UI_URL=http://127.0.0.1:$TEMPORAL_UI_PORT
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MINIO_PORT
MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT
ENV
}

# Secured: only non-secret settings here (paths to certificates are not secrets); passwords are in secrets.env.
# TEMPORAL_TLS_SERVER_NAME: the certificate also names 127.0.0.1, but Node warns (RFC 6066) when a TLS
# server name is an IP address, so clients are told to expect "localhost".
write_secured_stack_env() {
  cat >"$STACK_STATE_DIR/stack.env" <<ENV
TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_TLS_PORT
TEMPORAL_TLS_SERVER_CA_CERT_PATH=$TLS_DIR/ca.pem
TEMPORAL_TLS_CLIENT_CERT_PATH=$TLS_DIR/client.pem
TEMPORAL_TLS_CLIENT_KEY_PATH=$TLS_DIR/client-key.pem
TEMPORAL_TLS_SERVER_NAME=localhost
TEMPORAL_UI_URL=http://127.0.0.1:$TEMPORAL_UI_PORT
AWS_ENDPOINT_URL_S3=https://127.0.0.1:$MINIO_PORT
AWS_CA_BUNDLE=$TLS_DIR/ca.pem
MLFLOW_TRACKING_URI=https://127.0.0.1:$MLFLOW_PORT
MLFLOW_TRACKING_SERVER_CERT_PATH=$TLS_DIR/ca.pem
MLFLOW_TRACKING_USERNAME=$MLFLOW_PIPELINE_USERNAME
ENV
}

stop_service() {
  local name="$1" pid; pid="$(pid_of "$name")"
  if ! is_running "$name"; then rm -f "$PID_DIR/$name.pid"; return; fi
  log "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do is_running "$name" || break; sleep 0.25; done
  if is_running "$name"; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
  # The process group may outlive its leader (gunicorn workers): end whatever is left of it.
  pkill -KILL -g "$pid" 2>/dev/null || true
  rm -f "$PID_DIR/$name.pid"
}

status() {
  local rc=0
  for name in "${SERVICES[@]}"; do
    if is_running "$name"; then
      if "${name}_health" >/dev/null 2>&1; then echo "$name: running, healthy (pid $(pid_of "$name"))"
      else echo "$name: running, NOT healthy (pid $(pid_of "$name"))"; rc=1; fi
    else echo "$name: stopped"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  up)
    mkdir -p "$STACK_STATE_DIR" "$LOG_DIR"
    if secured; then
      # A secured stack with MinIO's well-known default credentials would not be secured at all.
      if [[ "$AWS_ACCESS_KEY_ID" == minioadmin || "$AWS_SECRET_ACCESS_KEY" == minioadmin ]]; then
        die "secured stack: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to something other than minioadmin"
      fi
      if [[ ! -f "$SECURED_MARKER" ]] && { is_running temporal || is_running minio || is_running mlflow; }; then
        die "$STACK_STATE_DIR holds a running plain stack; stop it first (scripts/stack.sh down) or use another state folder"
      fi
      touch "$SECURED_MARKER"
      bash "$PROJECT_ROOT/scripts/lib/stack-tls.sh" "$TLS_DIR"
      # The proxy before MLflow: MLflow's health check and its user set-up go through it.
      start_temporal; start_minio; start_haproxy; start_mlflow; write_stack_env
    else
      [[ -f "$SECURED_MARKER" ]] && die "$STACK_STATE_DIR holds a secured stack; start it with STACK_SECURED=1 (or use another state folder)"
      start_temporal; start_minio; start_mlflow; write_stack_env
    fi
    if [[ "${2:-}" == "--with-worker" ]]; then : >"$LOG_DIR/worker.log"; start_worker; fi
    if secured; then
      log "secured stack is up: Temporal 127.0.0.1:$TEMPORAL_TLS_PORT (mTLS; UI http://127.0.0.1:$TEMPORAL_UI_PORT), MinIO https://127.0.0.1:$MINIO_PORT, MLflow https://127.0.0.1:$MLFLOW_PORT (secrets: $SECRETS_ENV)"
    else
      log "stack is up: Temporal 127.0.0.1:$TEMPORAL_PORT (UI http://127.0.0.1:$TEMPORAL_UI_PORT), MinIO http://127.0.0.1:$MINIO_PORT, MLflow http://127.0.0.1:$MLFLOW_PORT"
    fi
    ;;
  down)
    stop_service worker
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_service "${SERVICES[$i]}"; done
    ;;
  status)
    status_rc=0; status || status_rc=$?
    if is_running worker; then echo "worker: running (pid $(pid_of worker))"; fi
    exit $status_rc
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
