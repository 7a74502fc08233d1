"""An example Python training workflow that starts the TypeScript `exportModel` as a child.

What a Python training pipeline adds after its last step: it knows the export only by its workflow
type name (`exportModel`), its task queue (`onnx-export`) and its JSON contract
(docs/export-contract.md), and it checks its request against docs/export-request.schema.json before
it starts anything - no TypeScript is imported. One export per training run: the child id is
`export-<modelName>-<runId>`; if an export with that id already exists (a retry of this parent, the
CLI, another parent), the parent waits for that export's result through an activity instead.

Run from the command line (the project's tests do this, with the stack's virtualenv):
    python training_parent.py --checkpoint-uri s3://... --run-id R [--model-name M] [--export-json '{...}']
It starts a worker for this workflow on its own queue, runs one parent, prints the export result as
JSON on stdout, and exits. The Temporal address comes from TEMPORAL_ADDRESS (default 127.0.0.1:7233).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

EXPORT_WORKFLOW_TYPE = "exportModel"
EXPORT_TASK_QUEUE = "onnx-export"
PARENT_TASK_QUEUE = "training-python"
DEFAULT_MODEL_NAME = "heimdall-localization-onnx"
# The request's contract, generated from the TypeScript schema (common/export-request.ts).
EXPORT_REQUEST_SCHEMA = ("docs", "export-request.schema.json")


def request_problems(request: dict[str, Any]) -> list[str]:
    """Every way the request breaks the export's JSON Schema, each naming its field."""
    # Here, not at module level: the workflow sandbox re-imports this module and forbids file access.
    import jsonschema

    schema = json.loads(Path(__file__).resolve().parents[2].joinpath(*EXPORT_REQUEST_SCHEMA).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path)) or 'request'}: {e.message}"
            for e in sorted(validator.iter_errors(request), key=lambda e: list(map(str, e.absolute_path)))]


async def connect_temporal() -> Client:
    """A client from the SDK's environment configuration, as the TypeScript side connects.

    TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the
    TOML file; the local dev server when none is set.
    """
    from temporalio.envconfig import ClientConfig

    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "127.0.0.1:7233")
    config.setdefault("namespace", "default")
    return await Client.connect(**config)


@activity.defn
async def await_existing_export(workflow_id: str) -> dict[str, Any]:
    """Waits for an export this parent did not start (workflow code can't wait on it directly)."""
    client = await connect_temporal()
    return await client.get_workflow_handle(workflow_id).result()


async def export_as_child(request: dict[str, Any]) -> dict[str, Any]:
    """Workflow code: exportModel as this workflow's child, or the result of the one already started."""
    # The request was checked against docs/export-request.schema.json before this run started.
    model_name = request.get("modelName", DEFAULT_MODEL_NAME)
    export_id = f"export-{model_name}-{request['runId']}"
    try:
        return await workflow.execute_child_workflow(
            EXPORT_WORKFLOW_TYPE,
            request,
            id=export_id,
            task_queue=EXPORT_TASK_QUEUE,
            # The export outlives a cancelled training run; a completed export is never redone.
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            result_type=dict,
        )
    except WorkflowAlreadyStartedError:
        return await workflow.execute_activity(
            await_existing_export, export_id,
            start_to_close_timeout=timedelta(hours=2),
        )


@workflow.defn(name="pythonTrainingWithExport")
class TrainingWithExport:
    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        return await export_as_child(request)


def refuse_if_invalid(request: dict[str, Any]) -> None:
    """Exits with status 2 and every schema problem on stderr when the request is not an ExportRequest."""
    problems = request_problems(request)
    if problems:
        print("invalid export request: " + "; ".join(problems), file=sys.stderr)
        sys.stdout.flush()
        os._exit(2)


async def run_parent(workflow_type: str, arg: Any, run_id: str, workflows: list, activities: list) -> Any:
    """Runs one parent workflow on a worker of its own (a fresh task queue) and returns its result."""
    client = await connect_temporal()
    queue = f"{PARENT_TASK_QUEUE}-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=workflows, activities=activities):
        return await client.execute_workflow(
            workflow_type,
            arg,
            id=f"python-training-{run_id}-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
            execution_timeout=timedelta(minutes=30),
        )


def failure_message(error: BaseException) -> str:
    """The innermost cause's message: what the export said, without the chain of wrappers around it."""
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {error}"


def run_and_exit(main_coroutine: Any) -> None:
    try:
        asyncio.run(main_coroutine)
    except WorkflowFailureError as failed:
        # One line, the failure's own words (e.g. the export's InvalidInput naming the file), no stack trace.
        print(f"the workflow failed: {failure_message(failed)}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    # Leave without interpreter finalization: the SDK's Rust runtime threads can still hold the GIL
    # machinery at exit and abort the process ("PyGILState_Release ... must be current"), which
    # would turn a finished run into a failing exit code. Everything is already printed and flushed.
    sys.stdout.flush()
    os._exit(0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-uri", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME)
    parser.add_argument("--export-json", default="{}", help="extra ExportRequest fields (opset, benchmark, ...)")
    args = parser.parse_args()
    request = {**json.loads(args.export_json), "checkpointUri": args.checkpoint_uri, "runId": args.run_id,
               "modelName": args.model_name}
    refuse_if_invalid(request)
    result = await run_parent("pythonTrainingWithExport", request, args.run_id, [TrainingWithExport],
                              [await_existing_export])
    print(json.dumps(result))


if __name__ == "__main__":
    run_and_exit(main())
