"""MLflow's own client reads back the signature of a registered model version.

Run with the stack's virtualenv, MLFLOW_TRACKING_URI, MLFLOW_S3_ENDPOINT_URL and AWS credentials in
the environment:

    python mlflow_signature_check.py <models:/name/version | a local model directory>

Prints one JSON line: {"inputs": [...], "outputs": [...]}, each a list of {name, dtype, shape} as
mlflow.models.get_model_info parsed them from the MLmodel (float32, int64 and bool tensor specs).
"""
import json
import sys

import mlflow


def specs(schema):
    return [{"name": s.name, "dtype": str(s.type), "shape": list(s.shape)} for s in schema.inputs]


def main(uri):
    signature = mlflow.models.get_model_info(uri).signature
    print(json.dumps({"inputs": specs(signature.inputs), "outputs": specs(signature.outputs)}))


if __name__ == "__main__":
    main(sys.argv[1])
