"""Starts exportModel straight through the Python SDK with requests exactly as given, as another
team's Python code would (no schema check in front), and reports how each run ended.

    python start_raw_exports.py <task-queue> <cases.json>
cases.json: [{"id": "<workflow id>", "args": [<request>] }, ...]; `args` may be [] (no request).
Prints one JSON line: [{"id", "status", "type", "non_retryable", "message", "elapsed_ms"}, ...].
The Temporal address comes from TEMPORAL_ADDRESS.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import timedelta

from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError


async def run_case(client: Client, queue: str, case: dict) -> dict:
    started = time.monotonic()
    out = {"id": case["id"]}
    try:
        await client.execute_workflow("exportModel", args=case["args"], id=case["id"], task_queue=queue,
                                      execution_timeout=timedelta(minutes=2))
        out["status"] = "completed"
    except WorkflowFailureError as err:
        cause = err.cause
        out["status"] = "failed"
        out["type"] = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
        out["non_retryable"] = cause.non_retryable if isinstance(cause, ApplicationError) else None
        out["message"] = str(cause.message if isinstance(cause, ApplicationError) else cause)
    out["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    return out


async def main() -> None:
    queue, cases_file = sys.argv[1], sys.argv[2]
    with open(cases_file) as f:
        cases = json.load(f)
    client = await Client.connect(os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
                                  namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    results = await asyncio.gather(*(run_case(client, queue, c) for c in cases))
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # As in workflows/python/training_parent.py: skip interpreter finalization (SDK runtime threads).
    os._exit(0)
