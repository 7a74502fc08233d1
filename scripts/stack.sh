#!/usr/bin/env bash
# The local stack: a Temporal dev server (SQLite, Web UI), MinIO and an MLflow server, all on 127.0.0.1.
#   scripts/stack.sh up [--with-worker]
#                             build what is missing, start what is not running, wait until healthy;
#                             with --with-worker also a worker (`onnx-export worker`) in the background
#   scripts/stack.sh down     stop exactly the processes `up` started (by their pid files)
#   scripts/stack.sh status   one line per service
# Logs, pid files and data go to one state folder ($ONNX_EXPORT_STATE_DIR, default .state/ in the clone).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PID_DIR="$STACK_STATE_DIR/pids"
LOG_DIR="$STACK_STATE_DIR/logs"
HEALTH_TIMEOUT_S="${STACK_HEALTH_TIMEOUT_S:-120}"
SERVICES=(temporal minio mlflow)

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
minio_health() { curl -fsS "http://127.0.0.1:$MINIO_PORT/minio/health/live"; }
mlflow_health() { curl -fsS "http://127.0.0.1:$MLFLOW_PORT/health"; }

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
  if is_running minio; then
    log "minio already running (pid $(pid_of minio))"
  else
    require_free_port "$MINIO_PORT" "MinIO S3 API" MINIO_PORT
    require_free_port "$MINIO_CONSOLE_PORT" "MinIO console" MINIO_CONSOLE_PORT
    mkdir -p "$STACK_STATE_DIR/minio-data"
    log "starting minio on 127.0.0.1:$MINIO_PORT (console :$MINIO_CONSOLE_PORT)"
    MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY" MINIO_BROWSER_REDIRECT=off \
      launch minio "$(minio_bin)" server "$STACK_STATE_DIR/minio-data" \
        --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet
    wait_healthy minio minio_health
  fi
  node "$PROJECT_ROOT/scripts/lib/ensure-buckets.js" "http://127.0.0.1:$MINIO_PORT" \
    "$ONNX_EXPORT_BUCKET" "$ONNX_EXPORT_CHECKPOINT_BUCKET" "$MLFLOW_ARTIFACT_BUCKET" \
    || die "could not create the buckets in MinIO"
}

start_mlflow() {
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

start_worker() {
  if is_running worker; then log "worker already running (pid $(pid_of worker))"; return; fi
  [[ -f "$PROJECT_ROOT/dist/client/cli.js" ]] || die "worker: dist/ is not built; run scripts/setup.sh (or npm ci) first"
  log "starting a worker (log: $LOG_DIR/worker.log)"
  ONNX_EXPORT_STATE_DIR="$STACK_STATE_DIR" launch worker node "$PROJECT_ROOT/bin/onnx-export.js" worker
  wait_healthy worker "grep -q 'worker polling' '$LOG_DIR/worker.log'"
}

# The endpoints of this stack, for the CLI, the worker and the tests (read when the environment is silent).
write_stack_env() {
  cat >"$STACK_STATE_DIR/stack.env" <<ENV
TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT
TEMPORAL_UI_URL=http://127.0.0.1:$TEMPORAL_UI_PORT
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MINIO_PORT
MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT
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
    start_temporal; start_minio; start_mlflow; write_stack_env
    if [[ "${2:-}" == "--with-worker" ]]; then : >"$LOG_DIR/worker.log"; start_worker; fi
    log "stack is up: Temporal 127.0.0.1:$TEMPORAL_PORT (UI http://127.0.0.1:$TEMPORAL_UI_PORT), MinIO http://127.0.0.1:$MINIO_PORT, MLflow http://127.0.0.1:$MLFLOW_PORT"
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
