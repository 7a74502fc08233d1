/**
 * A typed starter for exportModel, for the CLI and for other TypeScript code. One export per
 * training run: the workflow id is `export-<modelName>-<runId>`, and a second start of the same
 * export joins the running (or finished) one instead of starting another.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { TASK_QUEUES, REGISTRY_DEFAULTS } from '../common/constants';
import { DEFAULT_OPSET, EXPORT_WORKFLOW_TYPE, exportWorkflowId } from '../common/export-contract';
import { checkExportRequest, type ExportRequest } from '../common/export-request';
import type { exportModel } from '../workflows/export-model';
import { searchAttributeKeys } from '../common/search-attributes';

/** Memo key holding the id of the start request that created the run (a random UUID, no secret). */
export const START_ID_MEMO = 'startId';

export interface StartedExport {
  handle: WorkflowHandle<typeof exportModel>;
  workflowId: string;
  /**
   * `started`: a new run; `joined-running`: the export was already running and this start joined it;
   * `found-completed`: it had already completed, and its run is returned instead of exporting again.
   */
  outcome: 'started' | 'joined-running' | 'found-completed';
}

/** The id part that stands for the run: the run id, else a short hash of the checkpoint URI. */
export function runKey(request: ExportRequest): string {
  return request.runId ?? `ckpt-${createHash('sha256').update(request.checkpointUri).digest('hex').slice(0, 16)}`;
}

export async function startExport(
  client: Client,
  request: ExportRequest,
  opts: { taskQueue?: string } = {},
): Promise<StartedExport> {
  const checked = checkExportRequest(request);
  if (!checked.ok) throw new Error(`invalid export request: ${checked.problems.join('; ')}`);
  const modelName = request.modelName ?? REGISTRY_DEFAULTS.modelName;
  const workflowId = exportWorkflowId(modelName, runKey(request));
  // Which start created the run: two concurrent starts of one export both get a handle to the same
  // run, and only the memo of the one that created it is stored.
  const startId = randomUUID();
  try {
    const handle = await client.workflow.start<typeof exportModel>(EXPORT_WORKFLOW_TYPE, {
      taskQueue: opts.taskQueue ?? TASK_QUEUES.export,
      workflowId,
      args: [request],
      // Join a running export; start again only after a failed, cancelled or terminated one.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      typedSearchAttributes: [
        { key: searchAttributeKeys.modelName, value: modelName },
        { key: searchAttributeKeys.exportStage, value: 'queued' },
        ...(request.runId ? [{ key: searchAttributeKeys.trainingRunId, value: request.runId }] : []),
      ],
      memo: { [START_ID_MEMO]: startId },
      staticSummary: `Export ${modelName}${request.runId ? ` (run ${request.runId})` : ''} to ONNX`,
      staticDetails: [
        `**Checkpoint** ${request.checkpointUri}`,
        `**Opset** ${request.opset ?? DEFAULT_OPSET}`,
        `**Registry** ${modelName}${request.alias === '' ? '' : ` @${request.alias ?? REGISTRY_DEFAULTS.alias}`}`,
        ...(request.variants?.includes('int8') ? [`**Variants** fp32, int8 (as ${modelName}-int8)`] : []),
      ].join('\n'),
    });
    const run = await client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
    return { handle, workflowId, outcome: run.memo?.[START_ID_MEMO] === startId ? 'started' : 'joined-running' };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return {
      handle: client.workflow.getHandle<typeof exportModel>(workflowId),
      workflowId,
      outcome: 'found-completed',
    };
  }
}
