/**
 * Captures the histories of real, completed workflows from a running stack into test/histories/, for
 * the replay test (test/unit/workflow-replay.test.ts) that fails the build when a workflow change
 * breaks determinism. It runs on this host's worker (current workflow code), in groups:
 * - `export`: a successful export, a parity failure, a bad-input failure;
 * - `training`: a training parent with its exportModel child;
 * - `int8`: an export with variants fp32,int8 whose int8 version is published, and one whose int8
 *   variant fails its parity gate alone (fp32 published);
 * - `promote`: a promoteModel that moves the alias and the legacy stage, and one refused by its gate.
 *
 * A history is kept for the code that wrote it: re-capturing an existing file replaces the old code
 * path it guarded (e.g. an export from before a patch), so after an intended, versioned workflow
 * change (docs/workflow-versioning.md) capture under new names, or only the groups that are new.
 * With the local stack up (`npx onnx-export stack up`) and no other worker polling `onnx-export`:
 *   npx tsc -p tsconfig.json --outDir .state/capture-build && node .state/capture-build/scripts/capture-histories.js [group…]
 * No group named: every group. It never deletes a history: files are overwritten by name only.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { connectClient } from '../temporal/connect';
import { uploadBundle } from '../client/bundle-upload';
import { runDoctor } from '../client/doctor';
import { startExport } from '../client/export-starter';
import { startPromotion } from '../client/promote-starter';
import { TASK_QUEUES } from '../common/constants';
import { exportWorkflowId } from '../common/export-contract';
import { findProjectRoot, loadConfig, type PipelineConfig } from '../config/environment';
import { createWorkerHost } from '../worker/run-worker';

/** Small benchmark settings: the histories need the stage's commands, not meaningful timings. */
const QUICK_BENCHMARK = {
  batchSizes: [1, 4],
  maxRuns: 20,
  timeBudgetMs: 1_000,
  gpuScheduleToStartTimeout: '3 seconds',
};
/** The int8 group's bundle carries calibration.safetensors, as `onnx-export run <dir>` uploads it. */
const CALIBRATION_SAMPLES = 16;

/**
 * The small ConvNeXt LocalizationNet bundle of the tests (test/integration/support/fixtures.ts's
 * SMALL_CONVNEXT), made by the same PyTorch script; that module registers a vitest hook on import, so
 * a plain node script cannot use it.
 */
async function makeSmallBundle(root: string, out: string): Promise<void> {
  await promisify(execFile)(
    '/usr/bin/python3',
    [
      join(root, 'scripts', 'fixtures', 'make_localizationnet.py'),
      ...['--out', out, '--backbone', 'convnext', '--depths', '1,1,2,1', '--dims', '8,16,24,32'],
      ...['--seed', '1', '--samples', '8', '--calibration-samples', String(CALIBRATION_SAMPLES)],
    ],
    { timeout: 300_000 },
  );
}

function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

interface CaptureContext {
  client: Client;
  config: PipelineConfig;
  checkpointUri: string;
  save: (file: string, handle: WorkflowHandle, expect: 'completed' | 'failed') => Promise<void>;
}

const GROUPS: Record<string, (c: CaptureContext) => Promise<void>> = {
  async export({ client, config, checkpointUri, save }) {
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
  },

  async training({ client, checkpointUri, save }) {
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
  },

  async int8({ client, checkpointUri, save }) {
    const published = await startExport(client, {
      checkpointUri,
      modelName: unique('replay-int8'),
      runId: unique('run'),
      benchmark: QUICK_BENCHMARK,
      variants: ['fp32', 'int8'],
    });
    await save('export-int8.json', published.handle, 'completed');
    const int8 = (await published.handle.result()).variants.int8;
    if (int8?.status !== 'published') throw new Error(`export-int8.json: int8 not published: ${JSON.stringify(int8)}`);

    // An int8 tolerance no int8 graph meets: the variant fails alone at int8:parity.
    const failed = await startExport(client, {
      checkpointUri,
      modelName: unique('replay-int8-fails'),
      runId: unique('run'),
      benchmark: QUICK_BENCHMARK,
      variants: ['fp32', 'int8'],
      int8: { parity: { mae: 1e-9 } },
    });
    await save('export-int8-failed.json', failed.handle, 'completed');
    const failedInt8 = (await failed.handle.result()).variants.int8;
    if (failedInt8?.status !== 'failed' || failedInt8.stage !== 'int8:parity')
      throw new Error(`export-int8-failed.json: expected int8 to fail at int8:parity: ${JSON.stringify(failedInt8)}`);
  },

  async promote({ client, checkpointUri, save }) {
    const modelName = unique('replay-promote');
    const exported = await startExport(client, {
      checkpointUri,
      modelName,
      runId: unique('run'),
      benchmark: { ...QUICK_BENCHMARK, gpu: false },
    });
    const { version } = (await exported.handle.result()).registry;

    const promoted = await startPromotion(client, {
      modelName,
      version,
      alias: 'production',
      legacyStage: 'Production',
      gates: { maxMae: 1e-3, maxP95Ms: 60_000 },
    });
    await save('promote-model.json', promoted.handle, 'completed');
    const moved = await promoted.handle.result();
    if (!moved.alias.changed || !moved.stage?.changed)
      throw new Error(`promote-model.json: expected the alias and the stage to move: ${JSON.stringify(moved)}`);

    // The same version, with a gate its recorded parity cannot meet: refused before anything moves.
    const refused = await startPromotion(client, {
      modelName,
      version,
      alias: 'champion',
      gates: { maxMae: 1e-30 },
    });
    await save('promote-refused.json', refused.handle, 'failed');
  },
};

async function main(): Promise<void> {
  const chosen = process.argv.slice(2);
  const unknown = chosen.filter((g) => !(g in GROUPS));
  if (unknown.length)
    throw new Error(`unknown group(s) ${unknown.join(', ')}: expected ${Object.keys(GROUPS).join(', ')}`);
  const groups = chosen.length ? chosen : Object.keys(GROUPS);

  const config = loadConfig();
  const doctor = await runDoctor(config);
  if (!doctor.ok)
    throw new Error(
      `the stack is not ready: ${JSON.stringify(doctor.services.filter((s) => !s.reachable || s.missing.length))}`,
    );
  const root = findProjectRoot();
  const outDir = join(root, 'test', 'histories');
  mkdirSync(outDir, { recursive: true });

  const host = await createWorkerHost(config);
  const running = host.run();
  const client = await connectClient(config);
  const bundle = mkdtempSync(join(tmpdir(), 'onnx-export-capture-'));
  try {
    await makeSmallBundle(root, bundle);
    const checkpointUri = (await uploadBundle(config, bundle)).uri;
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
    for (const group of groups) await GROUPS[group]!({ client, config, checkpointUri, save });
  } finally {
    await client.connection.close();
    host.shutdown();
    await running;
    rmSync(bundle, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
