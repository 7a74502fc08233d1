/**
 * Bundles of a torch.save checkpoint on the real Temporal, MinIO and MLflow: a bare `best_model.pth`
 * (the training service's form, with Adam state and its config, written by Debian's torch 1.13 from
 * the small LocalizationNet) plus reference.safetensors, no config.json, goes through
 * `onnx-export run <dir> --wait` (the built CLI: upload, the worker's fetch, emission, parity,
 * registration) to a registered version whose checkpoint hash is the .pth file's. Bad checkpoints
 * put in the bucket object by object (so the worker's own checks refuse them) fail the export with a
 * final InvalidInput naming the object and the key, with nothing published or registered.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { ActivityFailure } from '@temporalio/common';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import type { PipelineConfig } from '../../config/environment';
import { SMALL_BUNDLE } from '../unit/models-fixtures';
import { Pickle, torch113FromSafetensors, writeCheckpoint } from '../unit/torch-checkpoint-writer';
import { exportWithCli } from './support/cli-run';
import { putRawBundle, versionsOf } from './support/raw-bundles';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 10, timeBudgetMs: 500, gpu: false };
const REFERENCE = 'reference.safetensors';

const root = mkdtempSync(join(tmpdir(), 'torch-bundles-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder with the small bundle's reference and this checkpoint as `best_model.pth`. */
function bundleOf(name: string, checkpoint: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(checkpoint, join(dir, 'best_model.pth'));
  copyFileSync(join(SMALL_BUNDLE, REFERENCE), join(dir, REFERENCE));
  return dir;
}

describe('torch.save checkpoint bundles (Temporal, MinIO, MLflow)', () => {
  const live = useWorkerHost();
  let config: PipelineConfig;
  let client: Client;
  let pth: string;
  beforeAll(() => {
    ({ config, client } = live);
    pth = join(root, 'best_model.pth');
    torch113FromSafetensors(join(SMALL_BUNDLE, 'model.safetensors'), pth, [
      '--adam',
      '--config-json',
      join(SMALL_BUNDLE, 'config.json'),
    ]);
  });

  it('onnx-export run <bare .pth bundle> --wait registers a version whose checkpoint hash is the .pth file’s', async () => {
    const dir = bundleOf('bare', pth);
    const modelName = uniqueName('torch-pth');
    const result = await exportWithCli(config, dir, modelName);
    expect(result.emission).toMatchObject({ source: 'emitted', architecture: 'LocalizationNet' });
    expect(result.emission.checkpointSha256).toBe(createHash('sha256').update(readFileSync(pth)).digest('hex'));
    expect(result.validation).toMatchObject({ ok: true, problems: [] });
    expect(result.parity.passed).toBe(true);
    const versions = await versionsOf(config, modelName);
    expect(versions.map((v) => v.version)).toEqual([result.registry.version]);
  });

  /** `clientRefuses`: the client's upload refuses the local folder too (it reads names, not checkpoints). */
  const bad: {
    name: string;
    make: () => { dir: string; files: string[] };
    file: string;
    message: RegExp;
    clientRefuses?: boolean;
    /** A file the checkpoint's code would have made, had anything run it. */
    neverMade?: string;
  }[] = [
    {
      name: 'a pickle naming os.system',
      make: () => {
        const pickle = new Pickle()
          .emptyDict()
          .str('model_state_dict')
          .global('os', 'system')
          .str('touch /tmp/ran-by-a-checkpoint')
          .tuple1()
          .reduce()
          .setitem()
          .stop();
        return { dir: bundleOf('os-system', writeCheckpoint(pickle)), files: ['best_model.pth', REFERENCE] };
      },
      file: 'best_model.pth',
      message: /best_model\.pth: data\.pkl: global 'os\.system' is not allowed \(allowed: /,
      neverMade: '/tmp/ran-by-a-checkpoint',
    },
    {
      name: 'a truncated archive',
      make: () => {
        const dir = bundleOf('truncated', pth);
        truncateSync(join(dir, 'best_model.pth'), 100_000);
        return { dir, files: ['best_model.pth', REFERENCE] };
      },
      file: 'best_model.pth',
      message: /best_model\.pth: end of central directory: not found: the archive is truncated/,
    },
    {
      name: 'two weights files',
      make: () => {
        const dir = bundleOf('two-weights', pth);
        copyFileSync(join(SMALL_BUNDLE, 'model.safetensors'), join(dir, 'model.safetensors'));
        return { dir, files: ['best_model.pth', 'model.safetensors', REFERENCE] };
      },
      file: 'model.safetensors',
      message: /the bundle has 2 weights files, best_model\.pth and model\.safetensors/,
      clientRefuses: true,
    },
  ];

  it.each(bad)('$name: a final InvalidInput naming the object and the key; nothing published', async (c) => {
    const { dir, files } = c.make();
    if (c.neverMade) rmSync(c.neverMade, { force: true });
    const checkpointUri = await putRawBundle(config, dir, files, 'torch-raw');
    const modelName = uniqueName('torch-bad');
    const { handle } = await startExport(client, {
      checkpointUri,
      modelName,
      runId: uniqueName('run'),
      benchmark: QUICK_BENCHMARK,
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause as ActivityFailure;
    const app = activity.cause as ApplicationFailure;
    expect(app).toBeInstanceOf(ApplicationFailure);
    expect(app.type).toBe('InvalidInput');
    expect(app.nonRetryable).toBe(true);
    expect(app.message).toContain(`${checkpointUri}${c.file}`);
    expect(app.message).toMatch(c.message);
    expect(app.message).not.toMatch(/\n\s+at /);
    expect(await versionsOf(config, modelName)).toEqual([]);
    if (c.neverMade) expect(existsSync(c.neverMade)).toBe(false);
    console.log(`${c.name}: ${app.type} at ${activity.activityType}: ${app.message}`);
    if (c.clientRefuses) await expect(uploadBundle(config, dir)).rejects.toThrow(c.message);
  });
});
