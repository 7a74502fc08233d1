"""MLflow's own client loads what the pipeline registered, and it predicts like PyTorch did.

Run with the stack's virtualenv (mlflow, onnx, onnxruntime, boto3), MLFLOW_TRACKING_URI,
MLFLOW_S3_ENDPOINT_URL and AWS credentials in the environment:

    python mlflow_load_check.py <models:/name/version> <reference.safetensors> <max_abs_tol> <mae_tol>

Loads the model with mlflow.pyfunc.load_model and with mlflow.onnx.load_model (run through
onnxruntime), predicts on every case of the reference (its inputs by the graph's names, one case or
several as <case>/<name>) and compares with the reference outputs. Prints one JSON line with the
errors per loader and output (`<case>/<output>` when there are several cases); exits 1 when any
output is outside the tolerance.
Reads the reference with reference_files.py beside it.
"""
import json
import os
import sys

import numpy as np

# Run with `python -P` too (which leaves this folder off sys.path): reference_files.py is beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_files import read_safetensors, reference_cases  # noqa: E402


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
