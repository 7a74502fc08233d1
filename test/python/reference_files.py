"""Reference-case files as the MLflow client checks read them (docs/export-contract.md, "Reference
cases"): safetensors read by hand (8-byte header length, JSON header, raw little-endian data; the
stack's virtualenv has no safetensors package), and their cases, one (named '') keyed by the graph's
names or several keyed '<case>/<name>'. Imported by the scripts beside it; runs nothing itself.
"""
import json
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(raw[base + start : base + end], dtype=DTYPES[meta["dtype"]]).reshape(meta["shape"])
    return out


def reference_cases(ref, names):
    """{case: {name: array}} for the graph's `names`: one case ('') when they are keys as they are,
    else the '<case>/<name>' keys, cases in name order."""
    if all(name in ref for name in names):
        return {"": {name: ref[name] for name in names}}
    cases = {}
    for key, value in ref.items():
        case, _, name = key.partition("/")
        if name in names:
            cases.setdefault(case, {})[name] = value
    return dict(sorted(cases.items()))
