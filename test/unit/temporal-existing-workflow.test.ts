/**
 * Unit: temporal/existing-workflow.ts turns the failure of the workflow waited for into an
 * ExistingExportFailedError and passes everything else through. The client is a stand-in that
 * answers `getHandle(id).result()` only (no integration test drives a colliding child start yet).
 */
import { ApplicationFailure, RetryState } from '@temporalio/common';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ExistingExportFailedError, existingWorkflowResult } from '../../temporal/existing-workflow';

/** A client whose only workflow ends with `outcome`. */
function clientEnding(outcome: () => Promise<unknown>): Client {
  return { workflow: { getHandle: () => ({ result: outcome }) } } as unknown as Client;
}

describe('existingWorkflowResult', () => {
  it('returns the result as it is', async () => {
    const result = { published: { written: true } };
    await expect(
      existingWorkflowResult(
        clientEnding(async () => result),
        'export-m-r1',
      ),
    ).resolves.toBe(result);
  });

  it("a failed export is an ExistingExportFailedError naming it and its failure's message, final", async () => {
    const parity = ApplicationFailure.nonRetryable('positions: MAE 0.2 over 1e-5', 'ParityFailed');
    const failed = new WorkflowFailedError('Workflow execution failed', parity, RetryState.NON_RETRYABLE_FAILURE);
    const err = await existingWorkflowResult(
      clientEnding(() => Promise.reject(failed)),
      'export-m-r1',
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExistingExportFailedError);
    expect(err).toMatchObject({
      workflowId: 'export-m-r1',
      reason: 'positions: MAE 0.2 over 1e-5',
      message: 'export export-m-r1 failed: positions: MAE 0.2 over 1e-5',
      retryable: false,
      cause: failed,
    });
  });

  it('anything else (an export that is not there, the server unreachable) is thrown as it is', async () => {
    const missing = new WorkflowNotFoundError('not found', 'export-m-r1', undefined);
    await expect(
      existingWorkflowResult(
        clientEnding(() => Promise.reject(missing)),
        'export-m-r1',
      ),
    ).rejects.toBe(missing);
  });
});
