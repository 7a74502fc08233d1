/**
 * Bad input is refused, fast, on the real Temporal, MinIO and MLflow: each case uploads a copy of
 * one PyTorch-made bundle with one thing broken, starts exportModel through startExport on a real
 * worker host (its own task queue, so no other worker takes the tasks), and checks that the export
 * fails with a NON-retryable InvalidInput whose message names the file, tensor or field, after exactly
 * one attempt of the failing activity, with nothing under models/<name>/, no registry version, and
 * `failed:<stage>` in the ExportStage search attribute. Invalid requests (model names that would
 * escape their prefix) are refused by the workflow's own check before any activity is scheduled.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { PipelineConfig } from '../../config/environment';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { MlflowClient } from '../../registry/mlflow-client';
import { createMinioClient } from '../../storage/minio-client';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { knownNames } from '../../models/architectures';
import { useWorkerHost } from './support/worker-host';
import { uniqueName } from './support/stack';
import {
  brokenCopy,
  editConfig,
  editSafetensors,
  entries,
  f32Bytes,
  pack,
  tensors,
  truncateFile,
} from './support/broken-bundles';

/**
 * A refused input ends in seconds (one attempt, no backoff). A retried error would take at least
 * 2 s + 4 s + … of backoff; this bound catches a retry storm even if the attempt count did not.
 */
const FAIL_FAST_MS = 30_000;
const WEIGHTS = 'model.safetensors';
const REFERENCE = 'reference.safetensors';

const EXPORT_STAGE = { name: 'ExportStage', type: 'KEYWORD' } as never;

interface BadCase {
  name: string;
  /** Breaks a copy of the good bundle; absent when `uri` gives the checkpoint directly. */
  breakIt?: (dir: string) => void;
  uri?: (config: PipelineConfig) => Promise<string>;
  stage: 'emit' | 'validate' | 'parity';
  activity: 'emitGraph' | 'validateStructure' | 'checkParity';
  /** The bundle file the message must name by its s3:// URI (not the worker's local copy). */
  file?: 'config.json' | 'model.safetensors' | 'reference.safetensors';
  /** Substrings the failure message must contain: the tensor or field, and what was wrong. */
  message: (string | RegExp)[];
}

const CASES: BadCase[] = [
  {
    name: 'truncated model.safetensors',
    breakIt: (dir) => truncateFile(dir, WEIGHTS, 0.6),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: [/tensor '[^']+'\.data_offsets/, 'runs past the end of the file'],
  },
  {
    name: 'header length larger than the file',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, () => undefined, { headerLength: (st) => BigInt(st.data.length + 1_000_000) }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['header length', 'header runs past the end of the file'],
  },
  {
    name: 'header that is not JSON',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, () => undefined, {
        rawHeader: (st) => JSON.stringify(st.header).replace(/"dtype"/, 'dtype'),
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['header', 'expected a JSON object, got invalid JSON'],
  },
  {
    name: 'overlapping data offsets',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, (st) => {
        const [, second] = entries(st);
        if (!second) throw new Error('fixture has fewer than two tensors');
        second[1].data_offsets = [second[1].data_offsets[0] - 4, second[1].data_offsets[1] - 4];
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: [
      "model.safetensors: tensor 'backbone.0.0.0.bias'.data_offsets",
      "overlaps tensor 'backbone.0.0.0.weight'",
    ],
  },
  {
    name: 'an unknown dtype',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, (st) => {
        (st.header['position_head.0.weight'] as { dtype: string }).dtype = 'Q4';
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ["tensor 'position_head.0.weight'.dtype", '"Q4"'],
  },
  {
    name: "a tensor whose bytes don't match its shape",
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, (st) => {
        (st.header['backbone.0.0.0.weight'] as { shape: number[] }).shape = [8, 3, 4, 5];
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: [
      "tensor 'backbone.0.0.0.weight'.data_offsets",
      'does not match shape × dtype',
      'expected 1920 bytes (F32 [8, 3, 4, 5]), got 1536 bytes',
    ],
  },
  {
    name: 'a missing key',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, (st) => {
        const list = tensors(st);
        list.delete('position_head.8.bias');
        return pack(st, list);
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['position_head.8.bias'],
  },
  {
    name: 'an unexpected key',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, (st) => {
        const list = tensors(st);
        list.set('position_head.9.weight', { dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) });
        return pack(st, list);
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['position_head.9.weight'],
  },
  {
    name: 'NaN in weights',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, (st) => {
        const list = tensors(st);
        const t = list.get('uncertainty_head.4.weight');
        if (!t) throw new Error('fixture has no uncertainty_head.4.weight');
        t.data.writeFloatLE(Number.NaN, 4 * 5);
        return pack(st, list);
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['uncertainty_head.4.weight', /NaN/],
  },
  {
    name: 'Inf in weights',
    breakIt: (dir) =>
      editSafetensors(dir, WEIGHTS, (st) => {
        const list = tensors(st);
        const t = list.get('backbone.0.1.0.block.0.weight');
        if (!t) throw new Error('fixture has no backbone.0.1.0.block.0.weight');
        t.data.writeFloatLE(Number.NEGATIVE_INFINITY, 0);
        return pack(st, list);
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['backbone.0.1.0.block.0.weight', /Inf/i],
  },
  {
    name: "a config naming a preset the weights don't match",
    breakIt: (dir) =>
      editConfig(dir, (c) => {
        c.backbone = 'convnext_tiny';
        delete c.depths;
        delete c.dims;
      }),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['convnext_tiny', /expected \[\d+(, \d+)*\], got \[\d+(, \d+)*\]/],
  },
  {
    name: 'an unknown architecture',
    breakIt: (dir) =>
      editConfig(dir, (c) => {
        c.architecture = 'ResNet50';
      }),
    file: 'config.json',
    stage: 'emit',
    activity: 'emitGraph',
    // Every architecture the list holds is named (models/architectures.ts).
    message: ['config.json: architecture', `expected ${knownNames()}, got "ResNet50"`],
  },
  {
    name: 'an input_shape with the wrong channel count',
    breakIt: (dir) =>
      editConfig(dir, (c) => {
        c.input_shape = [1, 128, 32];
      }),
    file: 'config.json',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['config.json: input_shape', 'expected [3, mel_bins, frames], got [1,128,32]'],
  },
  {
    name: "an input_shape the reference inputs don't have",
    breakIt: (dir) =>
      editConfig(dir, (c) => {
        c.input_shape = [3, 64, 32];
      }),
    stage: 'parity',
    activity: 'checkParity',
    message: [
      /s3:\/\/[^/]+\/staging\/[0-9a-f]{64}\/model\.onnx: input 'mel_spectrogram'/,
      "expected [N, 3, 128, 32] (the reference's), got [batch_size, 3, 64, 32]",
    ],
  },
  {
    name: 'reference outputs of the wrong shape',
    breakIt: (dir) =>
      editSafetensors(dir, REFERENCE, (st) => {
        const list = tensors(st);
        const t = list.get('positions');
        if (!t) throw new Error('fixture reference has no positions');
        const [n] = t.shape as [number];
        list.set('positions', { dtype: 'F32', shape: [n, 3], data: f32Bytes(new Array<number>(n * 3).fill(0)) });
        return pack(st, list);
      }),
    file: 'reference.safetensors',
    stage: 'parity',
    activity: 'checkParity',
    message: ["reference.safetensors: tensor 'positions'.shape", 'expected [8, 2], got [8, 3]'],
  },
  {
    name: 'a checkpoint URI that does not exist',
    uri: async (config) => `s3://${config.s3.checkpointsBucket}/bundles/${uniqueName('does-not-exist')}/`,
    stage: 'emit',
    activity: 'emitGraph',
    message: ['/config.json', 'the checkpoint bundle has no config.json'],
  },
  {
    name: 'a checkpoint bucket that does not exist',
    uri: async () => `s3://${uniqueName('no-such-bucket')}/bundles/x/`,
    stage: 'emit',
    activity: 'emitGraph',
    message: ['no-such-bucket', 'config.json'],
  },
  {
    name: 'an empty bundle (a prefix with no bundle files)',
    uri: async (config) => {
      const prefix = `bundles/${uniqueName('empty')}/`;
      await createMinioClient(config.s3).putObject(
        config.s3.checkpointsBucket,
        `${prefix}README.txt`,
        Buffer.from('not a bundle\n'),
      );
      return `s3://${config.s3.checkpointsBucket}/${prefix}`;
    },
    stage: 'emit',
    activity: 'emitGraph',
    message: ['/config.json', 'the checkpoint bundle has no config.json'],
  },
  {
    name: 'an empty model.safetensors',
    breakIt: (dir) => truncateFile(dir, WEIGHTS, 0),
    file: 'model.safetensors',
    stage: 'emit',
    activity: 'emitGraph',
    message: ['header length', 'file is truncated'],
  },
];

async function listKeys(config: PipelineConfig, prefix: string): Promise<string[]> {
  const minio = createMinioClient(config.s3);
  const keys: string[] = [];
  for await (const obj of minio.listObjectsV2(config.s3.modelsBucket, prefix, true)) if (obj.name) keys.push(obj.name);
  return keys;
}

async function versionsOf(config: PipelineConfig, modelName: string): Promise<unknown[]> {
  const mlflow = new MlflowClient(config.mlflow.trackingUri, config.mlflow.token);
  const out = await mlflow.call<{ model_versions?: unknown[] }>('GET', 'model-versions/search', {
    filter: `name='${modelName}'`,
  });
  return out.model_versions ?? [];
}

/** The activities a history scheduled, and the attempt numbers its started events record. */
async function activityAttempts(handle: WorkflowHandle): Promise<{ scheduled: string[]; attempts: number[] }> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  return {
    scheduled: events.flatMap((e) =>
      e.activityTaskScheduledEventAttributes?.activityType?.name
        ? [e.activityTaskScheduledEventAttributes.activityType.name]
        : [],
    ),
    attempts: events.flatMap((e) =>
      e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 0] : [],
    ),
  };
}

describe('bad input is refused fast, non-retryable, named, nothing published (Temporal, MinIO, MLflow)', () => {
  const queue = uniqueName('bad-input');
  const live = useWorkerHost({ taskQueues: { export: queue, bench: `${queue}-bench`, gpu: `${queue}-gpu` } });
  let config: PipelineConfig;
  let client: Client;
  let goodBundle: string;

  beforeAll(async () => {
    ({ config, client } = live);
    goodBundle = await makeBundle(SMALL_CONVNEXT);
  });

  it.each(CASES)('$name: InvalidInput at $stage after one attempt', async (c) => {
    const checkpointUri = c.uri
      ? await c.uri(config)
      : (await uploadBundle(config, brokenCopy(goodBundle, c.breakIt ?? (() => undefined)))).uri;
    const modelName = uniqueName('bad');
    const started = Date.now();
    const { handle } = await startExport(
      client,
      { checkpointUri, modelName, runId: uniqueName('run'), benchmark: { gpu: false } },
      { taskQueue: queue },
    );
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;

    expect(err, 'the export must fail').toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause;
    expect(activity).toBeInstanceOf(ActivityFailure);
    expect((activity as ActivityFailure).activityType).toBe(c.activity);
    const failure = (activity as ActivityFailure).cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    const app = failure as ApplicationFailure;
    expect({ type: app.type, nonRetryable: app.nonRetryable }).toEqual({ type: 'InvalidInput', nonRetryable: true });
    for (const part of c.message) {
      if (typeof part === 'string') expect(app.message).toContain(part);
      else expect(app.message).toMatch(part);
    }
    if (c.file) expect(app.message).toContain(`${checkpointUri}${c.file}`);
    expect(app.message, 'names objects, not the worker-local copies').not.toContain(config.workDir);
    for (const text of app.cause ? [app.cause.message, app.cause.stack ?? ''] : []) {
      expect(text, 'the nested cause (message and stack) names objects too').not.toContain(config.workDir);
    }
    expect(elapsed).toBeLessThan(FAIL_FAST_MS);

    const { scheduled, attempts } = await activityAttempts(handle);
    expect(scheduled.at(-1)).toBe(c.activity);
    expect(scheduled.filter((a) => a === c.activity)).toHaveLength(1);
    expect(
      attempts.every((a) => a === 1),
      `attempts ${JSON.stringify(attempts)}`,
    ).toBe(true);

    expect(await listKeys(config, `models/${modelName}/`)).toEqual([]);
    expect(await versionsOf(config, modelName)).toEqual([]);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(EXPORT_STAGE)).toBe(`failed:${c.stage}`);
    console.log(
      `${c.name}: ${app.type} at ${c.stage} after ${attempts.length ? Math.max(...attempts) : 0} attempt(s), ${elapsed} ms: ${app.message}`,
    );
  });

  it.each([
    { name: 'a parent-directory escape', modelName: '../x' },
    { name: 'a slash', modelName: 'team/model' },
    { name: 'a control character', modelName: 'model\u0007name' },
    { name: 'a newline', modelName: 'model\nname' },
  ])('refuses a model name with $name in the workflow, before any activity', async ({ modelName }) => {
    const checkpointUri = `s3://${config.s3.checkpointsBucket}/bundles/never-read/`;
    // The typed starter refuses it on the client side already…
    await expect(startExport(client, { checkpointUri, modelName }, { taskQueue: queue })).rejects.toThrow(/modelName/);
    // …and a starter that does not check (any SDK, plain JSON) meets the workflow's own check.
    const handle = await client.workflow.start('exportModel', {
      taskQueue: queue,
      workflowId: uniqueName('bad-name'),
      args: [{ checkpointUri, modelName }],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const app = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(app).toBeInstanceOf(ApplicationFailure);
    expect({ type: app.type, nonRetryable: app.nonRetryable }).toEqual({ type: 'InvalidInput', nonRetryable: true });
    expect(app.message).toContain(`modelName: expected`);
    expect(app.message).toContain(JSON.stringify(modelName));
    const { scheduled } = await activityAttempts(handle);
    expect(scheduled).toEqual([]);
    expect((await handle.describe()).typedSearchAttributes.get(EXPORT_STAGE)).toBe('failed');
    console.log(`model name ${JSON.stringify(modelName)}: ${app.type}: ${app.message}`);
  });
});
