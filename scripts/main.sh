#!/usr/bin/env bash
# The README's main command: installs what is missing, brings up the local stack and a worker,
# makes a sample LocalizationNet checkpoint with PyTorch (convnext_tiny, random weights), and runs
# the export end to end — upload, emission, validation, parity, benchmark, publish, registry —
# showing its progress, then prints the result and the Temporal Web UI link.
# The stack stays up afterwards: `npx onnx-export stack down` stops it.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"

bash scripts/setup.sh
bash scripts/stack.sh up --with-worker
node bin/onnx-export.js doctor

SAMPLE="$STACK_STATE_DIR/sample-bundle"
if [[ ! -f "$SAMPLE/reference.safetensors" ]]; then
  log "making a sample convnext_tiny checkpoint bundle with PyTorch in $SAMPLE"
  /usr/bin/python3 scripts/fixtures/make_localizationnet.py --out "$SAMPLE" --backbone convnext_tiny --samples 32 --seed 1 >/dev/null
fi

# This machine has no GPU worker: the GPU benchmark waits 30 s for one (10 minutes by default), then
# is recorded as skipped and the export goes on.
node bin/onnx-export.js run "$SAMPLE" --model-name "${MODEL_NAME:-heimdall-localization-onnx}" \
  --run-id "${RUN_ID:-sample-convnext-tiny}" --gpu-timeout 30s --wait
echo
echo "The stack is still running (Web UI http://127.0.0.1:$TEMPORAL_UI_PORT). Stop it with: npx onnx-export stack down"
