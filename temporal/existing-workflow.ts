/**
 * The result of a workflow that another starter began (same workflow id): what a training parent
 * whose child start collided with a running export waits for. A failed workflow becomes an
 * ExistingExportFailedError naming it and its failure: final for the caller too, since waiting again
 * gives the same failure. Anything else (the server unreachable, a timeout) is thrown as it is.
 *
 * Must not: heartbeat or know about activities (activities/await-existing-export.ts does).
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';

/** The export being waited for ended in failure; `reason` is its failure's message. */
export class ExistingExportFailedError extends Error {
  override readonly name = 'ExistingExportFailedError';
  readonly retryable = false;

  constructor(
    readonly workflowId: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`export ${workflowId} failed: ${reason}`, options);
  }
}

/** Waits for workflow `workflowId` to end and returns its result as it is (its type is the workflow's). */
export async function existingWorkflowResult(client: Client, workflowId: string): Promise<unknown> {
  try {
    return await client.workflow.getHandle(workflowId).result();
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new ExistingExportFailedError(workflowId, err.cause?.message ?? err.message, { cause: err });
    throw err;
  }
}
