#!/usr/bin/env bash
# The README's test command: installs what is missing, checks types and lint, runs the unit tests,
# starts a private local stack (its own ports, state folder and credentials), runs the integration
# tests against it, and stops it again, also when a test fails. Prints one summary line.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"

bash scripts/setup.sh

# A stack of its own, so tests never touch a stack a developer left running on the default ports.
export ONNX_EXPORT_STATE_DIR="${TEST_STATE_DIR:-$PROJECT_ROOT/.state-test}"
export TEMPORAL_PORT="${TEST_TEMPORAL_PORT:-17233}" TEMPORAL_UI_PORT="${TEST_TEMPORAL_UI_PORT:-18233}"
export TEMPORAL_HTTP_PORT="${TEST_TEMPORAL_HTTP_PORT:-17243}" TEMPORAL_METRICS_PORT="${TEST_TEMPORAL_METRICS_PORT:-17253}"
export MINIO_PORT="${TEST_MINIO_PORT:-19000}" MINIO_CONSOLE_PORT="${TEST_MINIO_CONSOLE_PORT:-19001}"
export MLFLOW_PORT="${TEST_MLFLOW_PORT:-15000}"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" TEMPORAL_UI_URL="http://127.0.0.1:$TEMPORAL_UI_PORT"
export TEMPORAL_NAMESPACE=default
# Worker-local artifact and bundle cache: inside the private state folder, gone with it.
export ONNX_EXPORT_WORK_DIR="$ONNX_EXPORT_STATE_DIR/work"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$MINIO_PORT" MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_PORT"
# Fresh credentials every run: the no-secrets-in-history checks look for exactly these strings.
export AWS_ACCESS_KEY_ID="test-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export AWS_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
unset MLFLOW_TRACKING_TOKEN AWS_ENDPOINT_URL MLFLOW_S3_ENDPOINT_URL

ARTIFACTS="$PROJECT_ROOT/test-artifacts"
rm -rf "$ARTIFACTS" && mkdir -p "$ARTIFACTS"

log "typecheck, lint and formatting"
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx prettier --check .

unit_rc=0
log "unit tests"
npx vitest run --project unit --reporter=default --reporter=json --outputFile.json="$ARTIFACTS/unit.json" || unit_rc=$?

# The stack is private to this run: start it from an empty state folder, stop it on any exit.
bash scripts/stack.sh down >/dev/null 2>&1 || true
rm -rf "$ONNX_EXPORT_STATE_DIR"
trap 'bash "$PROJECT_ROOT/scripts/stack.sh" down' EXIT
bash scripts/stack.sh up

integration_rc=0
log "integration tests (real Temporal, MinIO, MLflow)"
npx vitest run --project integration --reporter=default --reporter=json --outputFile.json="$ARTIFACTS/integration.json" || integration_rc=$?

node scripts/lib/test-summary.js "$ARTIFACTS/unit.json:$unit_rc" "$ARTIFACTS/integration.json:$integration_rc"
if ((unit_rc != 0 || integration_rc != 0)); then exit 1; fi
