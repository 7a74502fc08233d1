#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine (see scripts/compose-check/main.go) and
# prints the resolved project as JSON. The checker is built once, cached by its go.sum.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
src="$PROJECT_ROOT/scripts/compose-check"
bin="$ONNX_EXPORT_CACHE/compose-check-$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)/compose-check"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$(dirname "$bin")"
  (cd "$src" && go build -o "$bin" .) || die "could not build scripts/compose-check"
fi
exec "$bin" "${1:-$PROJECT_ROOT/docker-compose.yml}"
