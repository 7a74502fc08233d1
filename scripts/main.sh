#!/usr/bin/env bash
# The README's main command: installs what is missing, brings up the local stack and a worker,
# checks every service, and runs the first path through Temporal, MinIO and MLflow, printing the
# workflow's Temporal Web UI link. The stack stays up afterwards: `npx onnx-export stack down` stops it.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"

bash scripts/setup.sh
bash scripts/stack.sh up --with-worker
node bin/onnx-export.js doctor
node bin/onnx-export.js smoke
echo
echo "The stack is still running (Web UI http://127.0.0.1:$TEMPORAL_UI_PORT). Stop it with: npx onnx-export stack down"
