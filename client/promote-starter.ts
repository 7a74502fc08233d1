/**
 * A typed starter for promoteModel, for the CLI and other TypeScript code. One workflow id per
 * (model, alias, version): a second start while it runs joins it; after it ended, it runs again
 * (its moves are idempotent, and a rollback is the promotion of an earlier version once more).
 */
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { TASK_QUEUES } from '../common/constants';
import { PROMOTE_WORKFLOW_TYPE, promoteWorkflowId, type PromoteRequest } from '../common/promotion';
import { searchAttributeKeys } from '../common/search-attributes';
import { validatePromoteRequest } from '../registry/promote-version';
import type { promoteModel } from '../workflows/promote-model';

export interface StartedPromotion {
  handle: WorkflowHandle<typeof promoteModel>;
  workflowId: string;
}

export async function startPromotion(
  client: Client,
  input: PromoteRequest,
  opts: { taskQueue?: string } = {},
): Promise<StartedPromotion> {
  const request = validatePromoteRequest(input);
  const { modelName, alias, version, legacyStage, gates = {} } = request;
  const workflowId = promoteWorkflowId(modelName, alias, version);
  const handle = await client.workflow.start<typeof promoteModel>(PROMOTE_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue ?? TASK_QUEUES.export,
    workflowId,
    args: [request],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: searchAttributeKeys.modelName, value: modelName }],
    staticSummary: `Promote ${modelName} v${version} to @${alias}${legacyStage ? ` and stage ${legacyStage}` : ''}`,
    staticDetails: [
      `**Model** ${modelName} version ${version}`,
      `**Alias** @${alias}`,
      `**Legacy stage** ${legacyStage ?? 'not moved'}`,
      `**Gates** max MAE ${gates.maxMae ?? 'not checked'}, max CPU p95 ${gates.maxP95Ms !== undefined ? `${gates.maxP95Ms} ms` : 'not checked'}`,
    ].join('\n'),
  });
  return { handle, workflowId };
}
