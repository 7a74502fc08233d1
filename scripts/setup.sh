#!/usr/bin/env bash
# Installs whatever this machine lacks to run the pipeline and its tests, and nothing it already has:
# Debian packages (PyTorch for fixtures and the parity oracle, venv, curl, iproute2, haproxy for the
# secured stack's TLS front; its system service is not used), the npm
# packages (ONNXRUNTIME_NODE_INSTALL=skip: the CPU binaries ship in the package; GPU hosts install
# with --onnxruntime-node-install=cuda12), the Go-built Temporal CLI and MinIO, and the virtualenv.
# Safe to run again: every step checks first.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"

APT_PACKAGES=(python3-torch python3-torchvision libopenblas0-pthread python3-venv curl iproute2 procps chromium haproxy)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

command -v node >/dev/null || die "Node.js (>= 20.19) is required"
command -v go >/dev/null || die "Go is required to build the Temporal CLI and MinIO"

# npm packages: reinstall when package-lock.json changed since the last install.
lock_hash="$(sha256sum package-lock.json | cut -c1-16)"
if [[ ! -f node_modules/.onnx-export-lock-hash || "$(cat node_modules/.onnx-export-lock-hash)" != "$lock_hash" ]]; then
  log "installing npm packages (npm ci)"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" >node_modules/.onnx-export-lock-hash
else
  log "building TypeScript (dist/)"
  npm run --silent build >&2
fi

ensure_go_tool temporal "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" "$(temporal_bin)"
ensure_go_tool minio "github.com/minio/minio@$MINIO_VERSION" "$(minio_bin)"
bash "$PROJECT_ROOT/scripts/ensure-python-venv.sh" >/dev/null
log "setup complete"
