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
