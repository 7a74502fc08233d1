"""What a consumer (Heimdall's inference service) sees after a promotion, through MLflow's own client.

Run with the stack's virtualenv, MLFLOW_TRACKING_URI, MLFLOW_S3_ENDPOINT_URL and AWS credentials in
the environment:

    python mlflow_promote_check.py <name> <alias> <stage> <reference.safetensors|->

Prints one JSON line: the version the alias resolves to, the versions get_latest_versions and
search_model_versions see in <stage>, every version's current_stage, and (unless the reference is
"-") the errors of `models:/<name>/<stage>` downloaded (its model.onnx sha256) and run in onnxruntime's CPU provider against
the reference outputs.
"""
import hashlib
import json
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402

from mlflow_load_check import errors, read_safetensors  # noqa: E402


def main(name, alias, stage, ref_path):
    client = mlflow.MlflowClient()
    report = {"alias": alias, "stage": stage}
    try:
        report["by_alias"] = client.get_model_version_by_alias(name, alias).version
    except mlflow.exceptions.MlflowException:
        report["by_alias"] = None
    report["latest_in_stage"] = sorted(v.version for v in client.get_latest_versions(name, stages=[stage]))
    versions = client.search_model_versions(f"name='{name}'")
    report["stages"] = {v.version: v.current_stage for v in versions}
    report["searched_in_stage"] = sorted(v.version for v in versions if v.current_stage == stage)

    if ref_path != "-" and report["latest_in_stage"]:
        import onnxruntime

        out = tempfile.mkdtemp(prefix="promote-check-")
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{stage}", dst_path=out)
        onnx_path = os.path.join(local, "model.onnx")
        with open(onnx_path, "rb") as f:
            report["downloaded_sha256"] = hashlib.sha256(f.read()).hexdigest()
        sess = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        ref = read_safetensors(ref_path)
        x = np.ascontiguousarray(ref["mel_spectrogram"], dtype=np.float32)
        outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"mel_spectrogram": x})))
        report["providers"] = sess.get_providers()
        report["outputs"] = {k: errors(outs[k], ref[k]) for k in ("positions", "uncertainties")}
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:5])
