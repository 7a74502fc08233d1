"""An example Python training workflow for HeimdallNet that exports its training result.

What the training service adds after it saved `best_model.pth` (spec section 4: the dict with
`model_state_dict`, the optimizer's and scheduler's state and `config`): three steps, each its own
retry unit, then the TypeScript `exportModel` as a child, exactly as training_parent.py starts it
(same child id `export-<modelName>-<runId>`, same handling of an export already started):
  1. write_reference_cases: heimdall_reference.py, run by the training environment's interpreter
     (`--torch-python`: torch and the model's code), loads the checkpoint and writes
     reference.safetensors with the docs' snippet (docs/export-contract.md, "Reference cases");
  2. upload_bundle: the bare bundle - the .pth as it is plus reference.safetensors, no config.json
     (the export reads the architecture and max_receivers from the checkpoint's `config`) - to the
     checkpoints bucket under `bundles/<sha256 over its files' sha256s>/`, the content-addressed
     prefix `onnx-export run` uses, each object with its sha256 in the metadata; an object already
     there with that sha256 is not sent again;
  3. exportModel as a child, with the request checked against docs/export-request.schema.json before
     anything starts.
The activities read local files: they run on the host that holds the checkpoint (here, the worker
this script starts).

Run from the command line (the project's tests do this, with the stack's virtualenv):
    python heimdall_training_parent.py --checkpoint best_model.pth --run-id R [--model-name M]
        [--export-json '{...}'] [--torch-python PATH] [--seed N] [--bucket B] [--work-dir DIR]
It prints the export result as JSON on stdout. Temporal: TEMPORAL_ADDRESS and the SDK's environment
configuration (as training_parent.py). Object store: AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL,
MLFLOW_S3_ENDPOINT_URL), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the local stack's when unset;
the bucket: --bucket, else ONNX_EXPORT_CHECKPOINT_BUCKET, else heimdall-checkpoints.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

# String operations only at module level: the workflow sandbox re-imports this module and refuses I/O.
HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
with workflow.unsafe.imports_passed_through():
    from training_parent import (
        DEFAULT_MODEL_NAME,
        await_existing_export,
        export_as_child,
        refuse_if_invalid,
        run_and_exit,
        run_parent,
    )

REFERENCE_SCRIPT = os.path.join(HERE, "heimdall_reference.py")
REFERENCE_FILE = "reference.safetensors"
DEFAULT_BUCKET = "heimdall-checkpoints"
# The local stack's object store when the environment names none (common/constants.ts's defaults).
LOCAL_S3 = {"endpoint": "http://127.0.0.1:9000", "access_key": "minioadmin", "secret_key": "minioadmin"}
SHA256_METADATA_KEY = "sha256"


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_id(hashes: list[tuple[str, str]]) -> str:
    """sha256 over `<file>:<sha256>` lines, weights file first: the same files give the same prefix."""
    return hashlib.sha256("\n".join(f"{name}:{sha}" for name, sha in hashes).encode()).hexdigest()


class HeimdallActivities:
    """The training side's steps; they hold the deployment's settings, not the workflow history."""

    def __init__(self, torch_python: str, bucket: str, work_dir: str, seed: int) -> None:
        self.torch_python = torch_python
        self.bucket = bucket
        self.work_dir = work_dir
        self.seed = seed

    @activity.defn
    async def write_reference_cases(self, job: dict[str, Any]) -> dict[str, Any]:
        """Runs heimdall_reference.py on the checkpoint; returns the reference's path and its cases."""
        out_dir = Path(self.work_dir) / job["runId"]
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / REFERENCE_FILE
        process = await asyncio.create_subprocess_exec(
            self.torch_python, REFERENCE_SCRIPT, "--checkpoint", job["checkpointPath"], "--out", str(out),
            "--seed", str(self.seed), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await process.communicate()
        if process.returncode != 0:
            # The same checkpoint fails the same way again: not worth a retry.
            raise ApplicationError(
                f"{os.path.basename(REFERENCE_SCRIPT)} failed on {job['checkpointPath']}: "
                f"{stderr.decode(errors='replace').strip()[-2000:]}",
                type="ReferenceCasesFailed", non_retryable=True)
        return {"path": str(out), **json.loads(stdout.decode().strip().splitlines()[-1])}

    @activity.defn
    async def upload_bundle(self, paths: list[str]) -> str:
        """Uploads the files (each under its own name, the weights file first); returns the bundle's s3:// URI."""
        return await asyncio.to_thread(self._upload, {os.path.basename(path): path for path in paths})

    def _upload(self, files: dict[str, str]) -> str:
        import boto3  # here, not at module level: the workflow sandbox re-imports this module
        from botocore.config import Config
        from botocore.exceptions import ClientError

        s3 = boto3.client(
            "s3",
            endpoint_url=next((os.environ[k] for k in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
                                                       "MLFLOW_S3_ENDPOINT_URL") if os.environ.get(k)),
                              LOCAL_S3["endpoint"]),
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", LOCAL_S3["access_key"]),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", LOCAL_S3["secret_key"]),
            region_name=os.environ.get("AWS_REGION", "us-east-1"),
            config=Config(s3={"addressing_style": "path"}),
        )
        hashes = [(name, sha256_file(path)) for name, path in files.items()]
        prefix = f"bundles/{bundle_id(hashes)}/"
        for (name, sha256), path in zip(hashes, files.values()):
            key = prefix + name
            try:
                head = s3.head_object(Bucket=self.bucket, Key=key)
                if head["Metadata"].get(SHA256_METADATA_KEY) == sha256 and head["ContentLength"] == os.path.getsize(path):
                    continue
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                    raise
            s3.upload_file(path, self.bucket, key, ExtraArgs={"Metadata": {SHA256_METADATA_KEY: sha256}})
        return f"s3://{self.bucket}/{prefix}"


@workflow.defn(name="pythonHeimdallTrainingWithExport")
class HeimdallTrainingWithExport:
    @workflow.run
    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """job: checkpointPath (best_model.pth on the training host), runId, modelName, export (request fields)."""
        reference = await workflow.execute_activity_method(
            HeimdallActivities.write_reference_cases, job, start_to_close_timeout=timedelta(minutes=10))
        checkpoint_uri = await workflow.execute_activity_method(
            HeimdallActivities.upload_bundle,
            [job["checkpointPath"], reference["path"]],
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        request = {**job["export"], "checkpointUri": checkpoint_uri, "runId": job["runId"],
                   "modelName": job["modelName"]}
        return await export_as_child(request)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="the training result: best_model.pth")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME)
    parser.add_argument("--export-json", default="{}", help="extra ExportRequest fields (opset, benchmark, ...)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="the interpreter with torch and the model's code (default: this one)")
    parser.add_argument("--seed", type=int, default=0, help="the reference cases' inputs")
    parser.add_argument("--bucket", default=os.environ.get("ONNX_EXPORT_CHECKPOINT_BUCKET", DEFAULT_BUCKET))
    parser.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "heimdall-training-parent"),
                        help="where the reference is written before its upload")
    args = parser.parse_args()
    if not args.checkpoint.is_file():
        parser.error(f"--checkpoint {args.checkpoint}: no such file")
    export = json.loads(args.export_json)
    # Checked now, with the bundle's URI still to come, so a bad request starts nothing.
    refuse_if_invalid({**export, "checkpointUri": f"s3://{args.bucket}/bundles/{'0' * 64}/", "runId": args.run_id,
                       "modelName": args.model_name})
    activities = HeimdallActivities(args.torch_python, args.bucket, args.work_dir, args.seed)
    job = {"checkpointPath": str(args.checkpoint.resolve()), "runId": args.run_id, "modelName": args.model_name,
           "export": export}
    result = await run_parent("pythonHeimdallTrainingWithExport", job, args.run_id, [HeimdallTrainingWithExport],
                              [activities.write_reference_cases, activities.upload_bundle, await_existing_export])
    print(json.dumps(result))


if __name__ == "__main__":
    run_and_exit(main())
