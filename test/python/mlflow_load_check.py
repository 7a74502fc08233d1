"""MLflow's own client loads what the pipeline registered, and it predicts like PyTorch did.

Run with the stack's virtualenv (mlflow, onnx, onnxruntime, boto3), MLFLOW_TRACKING_URI,
MLFLOW_S3_ENDPOINT_URL and AWS credentials in the environment:

    python mlflow_load_check.py <models:/name/version> <reference.safetensors> <max_abs_tol> <mae_tol>

Loads the model with mlflow.pyfunc.load_model and with mlflow.onnx.load_model (run through
onnxruntime), predicts on every case of the reference (its inputs by the graph's names, one case or
several as <case>/<name>) and compares with the reference outputs. Prints one JSON line with the
errors per loader and output (`<case>/<output>` when there are several cases); exits 1 when any
output is outside the tolerance.
Reads safetensors by hand (8-byte header length, JSON header, raw little-endian data): the
virtualenv has no safetensors package.
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "BOOL": np.bool_}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(raw[base + start : base + end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return out


def reference_cases(ref, names):
    """The reference's cases as {case: {name: array}}: one case ('') keyed by the graph's names, or
    several keyed '<case>/<name>' (docs/export-contract.md, "Reference cases")."""
    if all(name in ref for name in names):
        return {"": {name: ref[name] for name in names}}
    cases = {}
    for key, value in ref.items():
        case, _, name = key.partition("/")
        if name in names:
            cases.setdefault(case, {})[name] = value
    return dict(sorted(cases.items()))


def errors(pred, ref):
    diff = np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(ref, dtype=np.float64))
    return {"max_abs": float(diff.max()), "mae": float(diff.mean()), "shape": list(np.asarray(pred).shape)}


def main():
    model_uri, ref_path, max_abs_tol, mae_tol = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    import mlflow.onnx
    import mlflow.pyfunc
    import onnxruntime

    pyfunc_model = mlflow.pyfunc.load_model(model_uri)
    schema = pyfunc_model.metadata.get_input_schema()
    proto = mlflow.onnx.load_model(model_uri)
    sess = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in sess.get_inputs()]
    outputs = [o.name for o in sess.get_outputs()]
    cases = reference_cases(read_safetensors(ref_path), inputs + outputs)
    report = {"model_uri": model_uri, "signature_inputs": [s.name for s in schema.inputs] if schema else None}
    report["pyfunc"], report["onnx"] = {}, {}
    for case, tensors in cases.items():
        feed = {name: np.ascontiguousarray(tensors[name]) for name in inputs}
        expected = {name: tensors[name] for name in outputs if name in tensors}
        key = (lambda name: name) if case == "" else (lambda name, case=case: f"{case}/{name}")
        pred = pyfunc_model.predict(feed)
        outs = dict(zip(outputs, sess.run(None, feed)))
        for loader, got in (("pyfunc", pred), ("onnx", outs)):
            for name, want in expected.items():
                e = errors(got[name], want)
                e["shape_ok"] = e["shape"] == list(want.shape)
                report[loader][key(name)] = e

    ok = all(
        e["max_abs"] <= max_abs_tol and e["mae"] <= mae_tol and e["shape_ok"]
        for loader in ("pyfunc", "onnx")
        for e in report[loader].values()
    )
    report["ok"] = ok
    print(json.dumps(report))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
