/**
 * Waits, from an activity, for an export that another starter already began (same workflow id),
 * and returns its result. Workflow code cannot wait on a workflow it did not start; this is how a
 * training parent whose child start collided with an existing export still gets that export's
 * result. Heartbeats while it waits, so a lost worker is noticed. The export's own failure is final
 * for this caller too (ExportFailed, through failures.ts).
 *
 * It forwards the result as it is; its type belongs to the workflow that produced it
 * (workflows/export-model.ts), so the caller declares it and this room never imports workflows/.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { existingWorkflowResult } from '../temporal/existing-workflow';
import { toActivityFailure } from './failures';

const HEARTBEAT_EVERY_MS = 5_000;

export function createAwaitExistingExportActivity(getClient: () => Promise<Client>) {
  return {
    async awaitExistingExport(workflowId: string): Promise<unknown> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        return await existingWorkflowResult(await getClient(), workflowId);
      } catch (err) {
        throw toActivityFailure(err);
      } finally {
        clearInterval(beat);
      }
    },
  };
}
