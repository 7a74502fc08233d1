#!/usr/bin/env bash
# The default export of the training service's torch-exported models, as a user runs it
# (`onnx-export run <dir> --wait`, no options), timed from the command to its result and split stage
# by stage (tools/default-export-timing.ts), against issue 21's targets: a TriangulationModel bundle
# in at most 10 s, an IQResNet18 bundle (its first reference case: 7 receivers, IQ length 1024, which
# the benchmark takes its sizes from) in at most 20 s. ROUNDS bundles of each (default 3), each with
# its own seed so none reuses another's uploads, one export at a time.
#
# Needs a stack with a worker: `npx onnx-export stack up --with-worker` (or the variables of another).
#   bash tools/heimdall-export-timing.sh [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm run --silent build >&2
npm run --silent build:tools >&2
echo "targets: triangulation_model <= 10 s, iq_resnet18 (N=7, L=1024) <= 20 s wall" >&2
for model in triangulation_model iq_resnet18; do
  bundles=()
  for ((i = 0; i < ROUNDS; i++)); do
    dir="$work/$model-$i"
    /usr/bin/python3 scripts/fixtures/make_heimdall_bundle.py --model "$model" --export dynamic --seed $((100 + i)) \
      --out "$dir" >/dev/null
    bundles+=("$dir")
  done
  echo "== $model" >&2
  node .state/tools-build/tools/default-export-timing.js "${bundles[@]}" "$@"
done
