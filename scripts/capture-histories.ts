/**
 * Captures the histories of real, completed exports from a running stack into test/histories/, for
 * the replay test (test/unit/workflow-replay.test.ts) that fails the build when a workflow change
 * breaks determinism. It runs on this host's worker (current workflow code): a successful export,
 * a parity failure, a bad-input failure, and a training parent with its exportModel child.
 *
 * Re-capture after an intended, versioned workflow change (docs/workflow-versioning.md), with the
 * local stack up (`npx onnx-export stack up`) and no other worker polling `onnx-export`:
 *   npx tsc -p tsconfig.json --outDir .state/capture-build && node .state/capture-build/scripts/capture-histories.js
 * It never deletes a history: files are overwritten by name only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { connectClient } from '../temporal/connect';
import { uploadBundle } from '../client/bundle-upload';
import { runDoctor } from '../client/doctor';
import { startExport } from '../client/export-starter';
import { TASK_QUEUES } from '../common/constants';
import { exportWorkflowId } from '../common/export-contract';
import { findProjectRoot, loadConfig } from '../config/environment';
import { createWorkerHost } from '../worker/run-worker';
import { makeBundle, SMALL_CONVNEXT } from '../test/integration/support/fixtures';

/** Small benchmark settings: the histories need the stage's commands, not meaningful timings. */
const QUICK_BENCHMARK = {
  batchSizes: [1, 4],
  maxRuns: 20,
  timeBudgetMs: 1_000,
  gpuScheduleToStartTimeout: '3 seconds',
};

function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const doctor = await runDoctor(config);
  if (!doctor.ok)
    throw new Error(
      `the stack is not ready: ${JSON.stringify(doctor.services.filter((s) => !s.reachable || s.missing.length))}`,
    );
  const outDir = join(findProjectRoot(), 'test', 'histories');
  mkdirSync(outDir, { recursive: true });

  const host = await createWorkerHost(config);
  const running = host.run();
  const client = await connectClient(config);
  try {
    const checkpointUri = (await uploadBundle(config, await makeBundle(SMALL_CONVNEXT))).uri;
    const save = async (file: string, handle: WorkflowHandle, expect: 'completed' | 'failed'): Promise<void> => {
      const outcome = await handle.result().then(
        () => 'completed',
        () => 'failed',
      );
      if (outcome !== expect) throw new Error(`${file}: the workflow ${outcome}, expected it to have ${expect}`);
      const history = await handle.fetchHistory();
      writeFileSync(join(outDir, file), `${JSON.stringify(history, null, 1)}\n`);
      console.log(`${file}: ${handle.workflowId} ${outcome}, ${history.events?.length ?? 0} events`);
    };

    const success = await startExport(client, {
      checkpointUri,
      modelName: unique('replay-ok'),
      runId: unique('run'),
      benchmark: QUICK_BENCHMARK,
    });
    await save('export-success.json', success.handle, 'completed');

    const parity = await startExport(client, {
      checkpointUri,
      modelName: unique('replay-parity'),
      runId: unique('run'),
      parity: { mae: 1e-30, maxAbs: 1e-30 },
      benchmark: QUICK_BENCHMARK,
    });
    await save('export-parity-failed.json', parity.handle, 'failed');

    const missing = `s3://${config.s3.checkpointsBucket}/bundles/${unique('missing')}/`;
    const badInput = await startExport(client, {
      checkpointUri: missing,
      modelName: unique('replay-bad'),
      runId: unique('run'),
    });
    await save('export-bad-input.json', badInput.handle, 'failed');

    const input = {
      checkpointUri,
      runId: unique('run'),
      modelName: unique('replay-parent'),
      export: { benchmark: QUICK_BENCHMARK },
    };
    const parent = await client.workflow.start('trainingWithExport', {
      taskQueue: TASK_QUEUES.export,
      workflowId: unique('replay-training'),
      args: [input],
    });
    await save('training-parent.json', parent, 'completed');
    await save(
      'training-parent-child.json',
      client.workflow.getHandle(exportWorkflowId(input.modelName, input.runId)),
      'completed',
    );
  } finally {
    await client.connection.close();
    host.shutdown();
    await running;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
