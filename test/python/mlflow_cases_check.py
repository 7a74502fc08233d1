"""MLflow's own client loads a registered version of any signature and predicts like PyTorch did.

Run with the stack's virtualenv (mlflow, onnx, onnxruntime, boto3), MLFLOW_TRACKING_URI,
MLFLOW_S3_ENDPOINT_URL and AWS credentials in the environment:

    python mlflow_cases_check.py <models:/name/version> <cases.safetensors> <max_abs_tol> <batch>[,<batch>...]

`cases.safetensors` is in the reference-case form (docs/export-contract.md): one case keyed by the
graph's input and output names, or several keyed `<case>/<name>`, F32/I64/BOOL. For every case and
every batch size b that the case has samples for, its first b samples go through `mlflow.pyfunc.load_model(...).predict`
(a dict of named numpy arrays, as a consumer calls it) and through `mlflow.onnx.load_model` run in
onnxruntime; each output is compared with PyTorch's. Prints one JSON line: the signature MLflow read
(name, dtype, shape per input and output), the worst error per loader, case, batch and output; exits
1 when any output is outside the tolerance or has another shape, or when no case has the samples a
batch size asks for. Reads the cases with reference_files.py beside it.
"""
import json
import os
import sys

import numpy as np

# Run with `python -P` too (which leaves this folder off sys.path): reference_files.py is beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_files import read_safetensors, reference_cases  # noqa: E402

def spec_of(schema):
    return [
        {"name": s.name, "dtype": str(s.type), "shape": list(s.shape)} for s in (schema.inputs if schema else [])
    ]


def main():
    model_uri, cases_path, max_abs_tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
    batches = [int(b) for b in sys.argv[4].split(",")]
    import mlflow.onnx
    import mlflow.pyfunc
    import onnxruntime

    pyfunc_model = mlflow.pyfunc.load_model(model_uri)
    proto = mlflow.onnx.load_model(model_uri)
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    input_names = [i.name for i in session.get_inputs()]
    output_names = [o.name for o in session.get_outputs()]
    meta = pyfunc_model.metadata
    report = {
        "model_uri": model_uri,
        "signature": {
            "inputs": spec_of(meta.get_input_schema()),
            "outputs": spec_of(meta.get_output_schema()),
        },
        "errors": [],
        "problems": [],
    }
    ran = set()
    for case, tensors in reference_cases(read_safetensors(cases_path), input_names + output_names).items():
        samples = tensors[input_names[0]].shape[0]
        for b in batches:
            if samples < b:
                continue
            ran.add(b)
            feeds = {name: np.ascontiguousarray(tensors[name][:b]) for name in input_names}
            predicted = {
                "pyfunc": pyfunc_model.predict(feeds),
                "onnx": dict(zip(output_names, session.run(None, feeds))),
            }
            for loader, outputs in predicted.items():
                for name in output_names:
                    want = tensors[name][:b].astype(np.float64)
                    got = np.asarray(outputs[name], dtype=np.float64)
                    entry = {"loader": loader, "case": case, "batch": b, "output": name, "shape": list(got.shape)}
                    if got.shape != want.shape:
                        entry["problem"] = f"shape {list(got.shape)}, expected {list(want.shape)}"
                        report["problems"].append(f"{loader} case '{case}' batch {b} {name}: {entry['problem']}")
                    else:
                        entry["max_abs"] = float(np.abs(got - want).max())
                        if not entry["max_abs"] <= max_abs_tol:
                            report["problems"].append(
                                f"{loader} case '{case}' batch {b} {name}: max abs {entry['max_abs']:.3e} > {max_abs_tol}"
                            )
                    report["errors"].append(entry)
    for b in batches:
        if b not in ran:
            report["problems"].append(f"no case has the {b} samples batch {b} asks for")
    report["ok"] = not report["problems"]
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
