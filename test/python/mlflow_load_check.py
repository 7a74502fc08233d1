"""MLflow's own client loads what the pipeline registered, and it predicts like PyTorch did.

Run with the stack's virtualenv (mlflow, onnx, onnxruntime, boto3), MLFLOW_TRACKING_URI,
MLFLOW_S3_ENDPOINT_URL and AWS credentials in the environment:

    python mlflow_load_check.py <models:/name/version> <reference.safetensors> <max_abs_tol> <mae_tol>

Loads the model with mlflow.pyfunc.load_model and with mlflow.onnx.load_model (run through
onnxruntime), predicts on the reference inputs and compares with the reference outputs. Prints one
JSON line with the errors per loader; exits 1 when any output is outside the tolerance.
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
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(raw[base + start : base + end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return out


def errors(pred, ref):
    diff = np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(ref, dtype=np.float64))
    return {"max_abs": float(diff.max()), "mae": float(diff.mean()), "shape": list(np.asarray(pred).shape)}


def main():
    model_uri, ref_path, max_abs_tol, mae_tol = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    import mlflow.onnx
    import mlflow.pyfunc
    import onnxruntime

    ref = read_safetensors(ref_path)
    x = np.ascontiguousarray(ref["mel_spectrogram"], dtype=np.float32)
    report = {"model_uri": model_uri}

    pyfunc_model = mlflow.pyfunc.load_model(model_uri)
    pred = pyfunc_model.predict({"mel_spectrogram": x})
    report["pyfunc"] = {k: errors(pred[k], ref[k]) for k in ("positions", "uncertainties")}
    schema = pyfunc_model.metadata.get_input_schema()
    report["signature_inputs"] = [s.name for s in schema.inputs] if schema else None

    proto = mlflow.onnx.load_model(model_uri)
    sess = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"mel_spectrogram": x})))
    report["onnx"] = {k: errors(outs[k], ref[k]) for k in ("positions", "uncertainties")}

    ok = all(
        e["max_abs"] <= max_abs_tol and e["mae"] <= mae_tol and e["shape"] == list(ref[k].shape)
        for loader in ("pyfunc", "onnx")
        for k, e in report[loader].items()
    )
    report["ok"] = ok
    print(json.dumps(report))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
