"""Benchmark helper: onnxruntime's own int8 quantizers on an fp32 graph of any signature, the baseline
tools/quantization-benchmark.ts compares our int8 QDQ quantizer with.

Runs in the project venv (onnxruntime with onnxruntime.quantization, onnx, numpy; no torch):

    VENV=$(bash scripts/ensure-python-venv.sh | tail -1)
    $VENV/bin/python -P tools/quantization-baseline.py model.onnx calibration.safetensors \
        --static-out static.onnx --dynamic-out dynamic.onnx [--pre-process on|off]

Writes
- quantize_static: QDQ, per_channel=True, activations QUInt8, weights QInt8, MinMax calibration,
  reduce_range=False (the host has VNNI, onnxruntime's advice for such CPUs), the calibration inputs
  fed one sample per batch, otherwise onnxruntime's defaults (every op type its QDQ registry knows).
  The calibration file is in the reference-case form (docs/export-contract.md): one case, keyed by the
  graph's input names, or several as `<case>/<name>`, taken case by case in name order (as quantize/
  takes them); every input of the graph is fed (float32, int64, bool), outputs in the file are
  ignored. A one-case file of one input (LocalizationNet's `mel_spectrogram`) is fed exactly as
  before, one sample at a time in file order;
- quantize_dynamic: per_channel=True, weights QInt8 (activation ranges computed at run time).
Prints one JSON line: seconds per step, paths, bytes, settings.

Configuration chosen for quantize_static: plain, without `quant_pre_process`. onnxruntime's warning
suggests pre-processing (ONNX shape inference plus an onnxruntime-optimised graph; its symbolic shape
inference needs sympy, which the venv lacks, so it runs with skip_symbolic_shape, fine for a graph
whose shapes are static but for the batch). Tried on convnext_tiny (2026-12-03, onnxruntime 1.32.0):
it left the quantized graph the same (967 nodes, same op counts, 27.7 MiB either way, 3 KB apart), the
errors on the evaluation set identical to the last digit, and latency within the noise (pre-processed
÷ plain, interleaved, 2 threads: batch 1 1.006 (95% CI 0.983-1.030), batch 32 0.979 (0.961-1.000)),
for ~1.4 s more. Our emitter's graph is already what the pre-processing would make of it, so the plain
call is the fair baseline and the default; `--pre-process on` reproduces the comparison (it applies
to quantize_dynamic too). reduce_range stays off: this host has VNNI (onnxruntime's advice).
"""
import argparse
import json
import os
import struct
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

NUMPY = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32, "BOOL": np.bool_}


def read_safetensors(path):
    """Every tensor of a safetensors file (u64 LE header length, JSON header, raw LE data), by key."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        out[key] = np.frombuffer(data[begin:end], dtype=NUMPY[entry["dtype"]]).reshape(entry["shape"]).copy()
    return out


def graph_inputs(model_path):
    """The graph's input names (not initializers), in graph order."""
    graph = onnx.load(model_path, load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    return [i.name for i in graph.input if i.name not in initializers]


def calibration_cases(path, inputs):
    """[(case name, {input: array [B, ...]})] in name order; one case ('') when no key has a `/`."""
    tensors = read_safetensors(path)
    several = any("/" in key for key in tensors)
    cases = {}
    for key, array in tensors.items():
        case, name = key.rsplit("/", 1) if several else ("", key)
        cases.setdefault(case, {})[name] = array
    out = []
    for case in sorted(cases):
        missing = [name for name in inputs if name not in cases[case]]
        if missing:
            where = f"case '{case}'" if case else "the file"
            raise SystemExit(f"{path}: {where} has no {', '.join(missing)} (has {sorted(cases[case])})")
        out.append((case, {name: cases[case][name] for name in inputs}))
    return out


class OnePerBatch(CalibrationDataReader):
    """Every input of every calibration case, one sample per batch ([1, ...] each), case by case."""

    def __init__(self, cases):
        self.samples = [
            {name: array[i : i + 1] for name, array in tensors.items()}
            for _, tensors in cases
            for i in range(next(iter(tensors.values())).shape[0])
        ]
        self.next = 0

    def get_next(self):
        if self.next >= len(self.samples):
            return None
        feed = self.samples[self.next]
        self.next += 1
        return feed

    def rewind(self):
        self.next = 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="fp32 model.onnx")
    p.add_argument("calibration", help="calibration.safetensors: every graph input, one case or several as <case>/<name>")
    p.add_argument("--static-out", help="write quantize_static's graph here")
    p.add_argument("--dynamic-out", help="write quantize_dynamic's graph here")
    p.add_argument("--pre-process", choices=["on", "off"], default="off",
                   help="run quant_pre_process on the fp32 graph first (default off: see the docstring)")
    args = p.parse_args(argv)
    if not args.static_out and not args.dynamic_out:
        p.error("nothing to do: give --static-out and/or --dynamic-out")

    result = {
        "onnxruntime": onnxruntime.__version__,
        "model": os.path.abspath(args.model),
        "calibration": os.path.abspath(args.calibration),
        "preProcess": args.pre_process == "on",
    }
    with tempfile.TemporaryDirectory(prefix="quantization-baseline-") as tmp:
        source = args.model
        if args.pre_process == "on":
            source = os.path.join(tmp, "preprocessed.onnx")
            start = time.perf_counter()
            quant_pre_process(args.model, source, skip_symbolic_shape=True)
            result["preProcessSeconds"] = time.perf_counter() - start

        if args.static_out:
            cases = calibration_cases(args.calibration, graph_inputs(source))
            reader = OnePerBatch(cases)
            start = time.perf_counter()
            quantize_static(
                source,
                args.static_out,
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=False,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
            result["static"] = {
                "path": os.path.abspath(args.static_out),
                "bytes": os.path.getsize(args.static_out),
                "seconds": time.perf_counter() - start,
                "calibrationSamples": len(reader.samples),
                "calibrationCases": len(cases),
                "inputs": list(cases[0][1]),
                "settings": "QDQ, per_channel, activations QUInt8, weights QInt8, MinMax, reduce_range off, batch 1",
            }

        if args.dynamic_out:
            start = time.perf_counter()
            quantize_dynamic(source, args.dynamic_out, per_channel=True, reduce_range=False,
                             weight_type=QuantType.QInt8)
            result["dynamic"] = {
                "path": os.path.abspath(args.dynamic_out),
                "bytes": os.path.getsize(args.dynamic_out),
                "seconds": time.perf_counter() - start,
                "settings": "per_channel, weights QInt8, reduce_range off",
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
