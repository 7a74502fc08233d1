#!/usr/bin/env bash
# Makes (once) the stack's virtualenv from scripts/python-requirements.txt and prints its path.
# Keyed by the requirements' hash and the Python version, so an unchanged list is reused as is.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

dir="$(venv_dir)"
mkdir -p "$ONNX_EXPORT_CACHE"
# One builder at a time: a second caller (another stack, a test) waits for the first, then reuses its venv.
exec 9>"$dir.lock"
flock 9
if [[ -x "$dir/bin/python" && -f "$dir/.complete" ]]; then
  echo "$dir"; exit 0
fi
log "creating virtualenv $dir (mlflow, onnx, onnxruntime, temporalio, jsonschema)"
rm -rf "$dir"
mkdir -p "$ONNX_EXPORT_CACHE"
"$(python_for_venv)" -m venv "$dir" || die "could not create a virtualenv with $(python_for_venv) (on Debian: apt-get install python3-venv)"
"$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >&2
"$dir/bin/pip" install --quiet --disable-pip-version-check -r "$PROJECT_ROOT/scripts/python-requirements.txt" >&2 \
  || die "pip install -r scripts/python-requirements.txt failed in $dir"
touch "$dir/.complete"
echo "$dir"
