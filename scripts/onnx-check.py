#!/usr/bin/env python3
"""Run the reference ONNX checker on model files and print one JSON verdict per file.

Usage: onnx-check.py MODEL.onnx [MODEL.onnx ...]
Prints [{"path": ..., "ok": true|false, "error": null|"..."}] on stdout; exit 0 unless the
arguments themselves are wrong (an invalid model is a verdict, not a failure of this script).

`full_check=True` adds strict shape inference: declared shapes that disagree with inferred ones are
errors. The path (not a loaded proto) is passed so models with external data and >2 GB work.
It runs in the stack's virtualenv (scripts/ensure-python-venv.sh), which pins `onnx`.
"""
import json
import sys

import onnx
import onnx.checker


def check(path: str) -> dict:
    try:
        onnx.checker.check_model(path, full_check=True)
        return {"path": path, "ok": True, "error": None}
    except Exception as err:  # noqa: BLE001 - every failure is a verdict for this file
        return {"path": path, "ok": False, "error": f"{type(err).__name__}: {err}"}


def main(argv: list) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump([check(p) for p in argv], sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
