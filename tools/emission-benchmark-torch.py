#!/usr/bin/python3
"""Benchmark helper: torch.onnx.export of the LocalizationNet in a bundle (same weights, opset 17).

Run by tools/emission-benchmark.ts in its own process (under /usr/bin/time -v) so its wall time and
peak RSS are measured alone. Loads model.safetensors into the fixture script's LocalizationNet, so
the exported graph has exactly the weights our emitter reads. Prints one JSON line with the export
call's own seconds. Must not write anything but the requested .onnx.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fixtures"))
from make_localizationnet import INPUT_SHAPE, PRESETS, LocalizationNet  # noqa: E402

NUMPY = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "F16": np.float16, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.array(data[begin:end].view(NUMPY[e["dtype"]]).reshape(e["shape"])))
    return out


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("bundle")
    p.add_argument("out")
    p.add_argument("--opset", type=int, default=17)
    args = p.parse_args(argv)
    config = json.load(open(os.path.join(args.bundle, "config.json")))
    depths, dims = (config["depths"], config["dims"]) if config["backbone"] == "convnext" else PRESETS[config["backbone"]]
    model = LocalizationNet(depths, dims, config["uncertainty_min"], config["uncertainty_max"])
    model.load_state_dict(read_safetensors(os.path.join(args.bundle, "model.safetensors")))
    model.eval()
    start = time.perf_counter()
    torch.onnx.export(model, torch.zeros([1, *INPUT_SHAPE]), args.out, opset_version=args.opset,
                      input_names=["mel_spectrogram"], output_names=["positions", "uncertainties"],
                      dynamic_axes={"mel_spectrogram": {0: "batch_size"}, "positions": {0: "batch_size"},
                                    "uncertainties": {0: "batch_size"}})
    print(json.dumps({"export_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main(sys.argv[1:])
