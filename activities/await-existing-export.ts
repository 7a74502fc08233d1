/**
 * Waits, from an activity, for an export that another starter already began (same workflow id),
 * and returns its result. Workflow code cannot wait on a workflow it did not start; this is how a
 * training parent whose child start collided with an existing export still gets that export's
 * result. Heartbeats while it waits, so a lost worker is noticed.
 *
 * It forwards the result as it is; its type belongs to the workflow that produced it
 * (workflows/export-model.ts), so the caller declares it and this room never imports workflows/.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../common/failure-types';

const HEARTBEAT_EVERY_MS = 5_000;

export function createAwaitExistingExportActivity(getClient: () => Promise<Client>) {
  return {
    async awaitExistingExport(workflowId: string): Promise<unknown> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        const client = await getClient();
        return await client.workflow.getHandle(workflowId).result();
      } catch (err) {
        if (err instanceof WorkflowFailedError) {
          // The export itself failed: that is final for this caller too; retrying would not change it.
          throw ApplicationFailure.create({
            message: `export ${workflowId} failed: ${err.cause?.message ?? err.message}`,
            type: FAILURE_TYPES.exportFailed,
            nonRetryable: true,
          });
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
  };
}
