/**
 * An example training workflow that hands its checkpoint to exportModel as a child: what a
 * TypeScript training pipeline adds after its last training step. (Training itself is out of
 * scope here; the parent receives the checkpoint bundle's URI.)
 *
 * One export per training run: the child's id is `export-<modelName>-<runId>`. If that id is
 * already taken — a retry of this parent, the CLI, or another parent started the same export —
 * the start fails with WorkflowExecutionAlreadyStartedError, and the parent waits for the existing
 * export's result through an activity instead of exporting twice.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { executeChild, ParentClosePolicy, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { REGISTRY_DEFAULTS, TASK_QUEUES } from '../common/constants';
import { FAILURE_TYPES } from '../common/failure-types';
import { exportWorkflowId } from '../common/export-contract';
import type { ExportRequest } from '../common/export-request';
import { searchAttributeKeys } from '../common/search-attributes';
import { exportModel, type ExportResult } from './export-model';

/**
 * The activity forwards the existing export's result as it is; its type is the export workflow's,
 * declared here so activities/ never imports workflows/ (the name is still checked against Activities).
 */
type AwaitExistingExport = {
  [K in Extract<keyof Activities, 'awaitExistingExport'>]: (workflowId: string) => Promise<ExportResult>;
};

const { awaitExistingExport } = proxyActivities<AwaitExistingExport>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: [FAILURE_TYPES.exportFailed] },
});

export interface TrainingRunInput {
  /** Where the training step wrote its bundle (config.json, model.safetensors, reference.safetensors). */
  checkpointUri: string;
  runId: string;
  modelName?: string;
  /** Passed through to the export (opset, tolerances, benchmark settings, alias). */
  export?: Omit<ExportRequest, 'checkpointUri' | 'runId' | 'modelName'>;
}

export async function trainingWithExport(input: TrainingRunInput): Promise<ExportResult> {
  const modelName = input.modelName ?? REGISTRY_DEFAULTS.modelName;
  const request: ExportRequest = { ...input.export, checkpointUri: input.checkpointUri, runId: input.runId, modelName };
  const workflowId = exportWorkflowId(modelName, input.runId);
  try {
    return await executeChild(exportModel, {
      workflowId,
      taskQueue: TASK_QUEUES.export,
      args: [request],
      // The export outlives a cancelled or terminated training run: a published model stays consistent.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      // A completed export is never redone; a failed one may be started again.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      typedSearchAttributes: [
        { key: searchAttributeKeys.modelName, value: modelName },
        { key: searchAttributeKeys.trainingRunId, value: input.runId },
        { key: searchAttributeKeys.exportStage, value: 'queued' },
      ],
      staticSummary: `Export ${modelName} (run ${input.runId}) to ONNX, started by training workflow`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return await awaitExistingExport.executeWithOptions(
      {
        startToCloseTimeout: '2 hours',
        heartbeatTimeout: '1 minute',
        summary: `Wait for the existing export ${workflowId}`,
      },
      [workflowId],
    );
  }
}
