# Shared by the stack scripts: where things are cached and where the running stack keeps its state.
# Sourced, never executed.

# Built tools and virtualenvs live outside the clone, keyed by version, so CI and later sessions reuse them.
ONNX_EXPORT_CACHE="${ONNX_EXPORT_CACHE:-$HOME/.cache/onnx-export-pipeline}"
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Logs, pid files and data of the running stack: one folder, inside the clone unless told otherwise.
STACK_STATE_DIR="${ONNX_EXPORT_STATE_DIR:-$PROJECT_ROOT/.state}"

TEMPORAL_CLI_VERSION="v1.5.1"
# MinIO publishes no semver module tags; pin the pseudo-version that `@latest` resolved to when chosen.
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Python that makes the virtualenv: pyenv's or the system's, whichever is first on PATH.
python_for_venv() {
  command -v python3 || echo /usr/bin/python3
}

venv_dir() {
  local req_hash pyver
  req_hash="$(sha256sum "$PROJECT_ROOT/scripts/python-requirements.txt" | cut -c1-12)"
  pyver="$("$(python_for_venv)" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  echo "$ONNX_EXPORT_CACHE/venv-py$pyver-$req_hash"
}

# Ports of the local stack (all bound to 127.0.0.1). Override any of them in the environment.
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
TEMPORAL_HTTP_PORT="${TEMPORAL_HTTP_PORT:-7243}"
TEMPORAL_METRICS_PORT="${TEMPORAL_METRICS_PORT:-7253}"
MINIO_PORT="${MINIO_PORT:-9000}"
MINIO_CONSOLE_PORT="${MINIO_CONSOLE_PORT:-9001}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
# Local development credentials; a real deployment provides its own in the environment.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-minioadmin}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-minioadmin}"
ONNX_EXPORT_BUCKET="${ONNX_EXPORT_BUCKET:-heimdall-models}"
ONNX_EXPORT_CHECKPOINT_BUCKET="${ONNX_EXPORT_CHECKPOINT_BUCKET:-heimdall-checkpoints}"
MLFLOW_ARTIFACT_BUCKET="${MLFLOW_ARTIFACT_BUCKET:-mlflow-artifacts}"

temporal_bin() { echo "$ONNX_EXPORT_CACHE/temporal-cli-$TEMPORAL_CLI_VERSION/bin/temporal"; }
minio_bin() { echo "$ONNX_EXPORT_CACHE/minio-$MINIO_VERSION/bin/minio"; }

# Builds a Go tool into its versioned cache folder unless it is already there.
#   ensure_go_tool NAME MODULE@VERSION BIN_PATH
ensure_go_tool() {
  local name="$1" module="$2" bin="$3"
  [[ -x "$bin" ]] && return 0
  command -v go >/dev/null || die "$name: 'go' is not installed; it is needed to build $module"
  log "building $name ($module) into $(dirname "$bin"); this takes several minutes the first time"
  mkdir -p "$(dirname "$bin")" "$ONNX_EXPORT_CACHE/logs"
  local build_log="$ONNX_EXPORT_CACHE/logs/$name-build.log"
  if ! GOBIN="$(dirname "$bin")" GOFLAGS=-mod=mod go install "$module" >"$build_log" 2>&1; then
    tail -20 "$build_log" >&2
    die "$name: 'go install $module' failed (full log: $build_log)"
  fi
}
