/**
 * What a failed export or promotion tells its starter: the innermost cause (the activity's own
 * message, which names the service, file or field), not the SDK's "Workflow execution failed".
 */
import { WorkflowFailedError } from '@temporalio/client';

/** The deepest cause's message of a WorkflowFailedError, or undefined for any other error. */
export function workflowFailureMessage(err: unknown): string | undefined {
  if (!(err instanceof WorkflowFailedError)) return undefined;
  let deepest: unknown = err;
  for (let e: unknown = err.cause, depth = 0; e instanceof Error && depth < 8; depth++) {
    deepest = e;
    e = (e as Error & { cause?: unknown }).cause;
  }
  return deepest instanceof Error ? deepest.message : err.message;
}
