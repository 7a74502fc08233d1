/**
 * Bring-your-own ONNX on the real Temporal, MinIO and MLflow: a bundle with its own model.onnx (and
 * external data), reference.safetensors and no weights goes through `onnx-export run <dir> --wait`
 * (the built CLI, as a user runs it) to a registered version tagged `graph_source=brought` with the
 * graph's own producer, also when the bundle carries the checkpoint the graph was exported from (the
 * brought graph is what is published; the checkpoint is uploaded with it); bad bundles are refused fast (one attempt, seconds), naming the file and the
 * tensor, with nothing published or registered. The graph is our small LocalizationNet written as
 * another tool would (its own producer name): a valid bring-your-own bundle needs no torch.
 *
 * The bad bundles are put in the checkpoints bucket object by object, as a training service would
 * write them, so the worker's own checks are what refuses them; the client's upload refuses the
 * same local folders before anything is sent (checked here too, where it can tell).
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile, readFileRange } from '../../checkpoint';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import type { PipelineConfig } from '../../config/environment';
import { buildLocalizationNet } from '../../models';
import { writeModel } from '../../onnx/write-model';
import { createMinioClient } from '../../storage/minio-client';
import { loadLocalizationNetBundle, SMALL_BUNDLE, writeSafetensors, type Entry } from '../unit/models-fixtures';
import { exportWithCli } from './support/cli-run';
import { putRawBundle, versionsOf } from './support/raw-bundles';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

/** A refused bundle ends in seconds (one attempt, no backoff); a retried error would take 2 s + 4 s + … */
const FAIL_FAST_MS = 30_000;
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 10, timeBudgetMs: 500, gpu: false };
/** The producer our brought graph claims, as a third-party exporter's graph would. */
const PRODUCER = { name: 'third-party-exporter', version: '4.2.1' };

const root = mkdtempSync(join(tmpdir(), 'byo-bundles-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A graph bundle: the small LocalizationNet as model.onnx from `PRODUCER` (weights in model.onnx.data when asked), its reference. */
async function broughtBundle(name: string, options: { externalData?: boolean } = {}): Promise<string> {
  const dir = join(root, name);
  const bundle = await loadLocalizationNetBundle(SMALL_BUNDLE);
  const { model } = buildLocalizationNet(bundle);
  await writeModel(
    { ...model, producerName: PRODUCER.name, producerVersion: PRODUCER.version },
    join(dir, 'model.onnx'),
    {
      externalData: options.externalData ? 'always' : 'never',
    },
  );
  copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
  return dir;
}

/** The small bundle's reference tensors, for editing. */
async function referenceEntries(): Promise<Map<string, Entry>> {
  const file = await SafetensorsFile.open(join(SMALL_BUNDLE, 'reference.safetensors'));
  const out = new Map<string, Entry>();
  for (const t of file.tensors)
    out.set(t.name, { dtype: t.dtype, shape: t.shape, data: await readFileRange(file.range(t.name)) });
  return out;
}

/** A copy of a bundle folder with its reference edited. */
async function withReference(dir: string, name: string, edit: (entries: Map<string, Entry>) => void): Promise<string> {
  const copy = join(root, name);
  mkdirSync(copy, { recursive: true });
  for (const f of readdirSync(dir)) {
    if (statSync(join(dir, f)).isFile()) copyFileSync(join(dir, f), join(copy, f));
  }
  const entries = await referenceEntries();
  edit(entries);
  writeSafetensors(join(copy, 'reference.safetensors'), entries);
  return copy;
}

/** The committed small reference's batch: every tensor leads with it. */
const REFERENCE_BATCH = 2;
const elements = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Replaces a same-length string in a file's bytes (keeps protobuf lengths valid). */
function replaceBytes(path: string, from: string, to: string): void {
  const text = readFileSync(path).toString('latin1');
  if (!text.includes(from) || from.length !== to.length) throw new Error(`cannot replace '${from}' in ${path}`);
  writeFileSync(path, Buffer.from(text.split(from).join(to), 'latin1'));
}

interface BadBundle {
  name: string;
  /** The local folder (made in beforeAll) and the files of it to put in the bucket. */
  make: () => Promise<{ dir: string; files?: string[] }>;
  /** A request option that is part of the fault (a brought graph with an opset). */
  opset?: number;
  /** The bundle object the message names, by its s3:// URI. */
  file: string;
  /** What the message must also contain: the tensor or field, and what was wrong. */
  message: (string | RegExp)[];
  /** Whether the client's own upload refuses the local folder (the files it checks before sending). */
  clientRefuses?: RegExp;
}

const BAD: BadBundle[] = [
  {
    name: 'no reference',
    make: async () => ({ dir: await broughtBundle('no-reference'), files: ['model.onnx'] }),
    file: 'reference.safetensors',
    message: ['the checkpoint bundle has no reference.safetensors'],
  },
  {
    name: 'a reference missing an input',
    make: async () => ({
      dir: await withReference(await broughtBundle('missing-input-src'), 'missing-input', (e) => {
        e.delete('mel_spectrogram');
      }),
    }),
    file: 'reference.safetensors',
    message: ['mel_spectrogram'],
  },
  {
    name: 'a reference missing an output',
    make: async () => ({
      dir: await withReference(await broughtBundle('missing-output-src'), 'missing-output', (e) => {
        e.delete('uncertainties');
      }),
    }),
    file: 'reference.safetensors',
    message: ['uncertainties'],
  },
  {
    name: 'a wrong dtype',
    make: async () => ({
      dir: await withReference(await broughtBundle('dtype-src'), 'wrong-dtype', (e) => {
        const t = e.get('positions') as Entry;
        e.set('positions', { dtype: 'I64', shape: t.shape, data: new Uint8Array(elements(t.shape) * 8) });
      }),
    }),
    file: 'reference.safetensors',
    message: ['positions', /I64|int64/],
  },
  {
    name: 'a wrong rank',
    make: async () => ({
      dir: await withReference(await broughtBundle('rank-src'), 'wrong-rank', (e) => {
        const t = e.get('mel_spectrogram') as Entry;
        e.set('mel_spectrogram', { ...t, shape: [REFERENCE_BATCH, 3, 128 * 32] });
      }),
    }),
    file: 'reference.safetensors',
    message: ['mel_spectrogram', `[${REFERENCE_BATCH}, 3, 4096]`],
  },
  {
    name: 'a case whose tensors disagree on the batch size',
    make: async () => ({
      dir: await withReference(await broughtBundle('batch-src'), 'batch-mismatch', (e) => {
        const t = e.get('positions') as Entry;
        const fewer = REFERENCE_BATCH - 1;
        e.set('positions', {
          dtype: 'F32',
          shape: [fewer, 2],
          data: (t.data as Uint8Array).subarray(0, fewer * 2 * 4),
        });
      }),
    }),
    file: 'reference.safetensors',
    message: ['positions', new RegExp(`\\b${REFERENCE_BATCH - 1}\\b`), new RegExp(`\\b${REFERENCE_BATCH}\\b`)],
  },
  {
    name: "a graph that doesn't parse",
    make: async () => {
      const dir = await broughtBundle('unparsable');
      writeFileSync(join(dir, 'model.onnx'), Buffer.from('this is not an ONNX protobuf\n'));
      return { dir };
    },
    file: 'model.onnx',
    message: ['graph: not an ONNX model this tool can read'],
    clientRefuses: /model\.onnx: graph: not an ONNX model this tool can read/,
  },
  {
    name: 'external data missing',
    make: async () => ({
      dir: await broughtBundle('external-missing', { externalData: true }),
      files: ['model.onnx', 'reference.safetensors'],
    }),
    file: 'model.onnx',
    message: [/tensor '[^']+': external data file 'model\.onnx\.data' does not exist in the bundle/],
  },
  {
    name: 'external data pointing outside the bundle',
    make: async () => {
      const dir = await broughtBundle('external-outside', { externalData: true });
      replaceBytes(join(dir, 'model.onnx'), 'model.onnx.data', '../outside.data');
      return { dir, files: ['model.onnx', 'reference.safetensors'] };
    },
    file: 'model.onnx',
    message: [/graph: tensor '[^']+': external data location '\.\.\/outside\.data' must be relative and inside/],
    clientRefuses: /model\.onnx: graph: tensor '[^']+': external data location '\.\.\/outside\.data'/,
  },
  {
    name: 'model.onnx with two weights files beside it',
    make: async () => {
      const dir = await broughtBundle('graph-and-two-weights');
      copyFileSync(join(SMALL_BUNDLE, 'model.safetensors'), join(dir, 'model.safetensors'));
      copyFileSync(join(SMALL_BUNDLE, 'model.safetensors'), join(dir, 'best_model.pth'));
      return { dir };
    },
    file: 'model.safetensors',
    message: ['the bundle has 2 weights files, best_model.pth and model.safetensors'],
    clientRefuses: /model\.safetensors: the bundle has 2 weights files, best_model\.pth and model\.safetensors/,
  },
  {
    name: 'a request opset with a brought graph',
    make: async () => ({ dir: await broughtBundle('with-opset') }),
    opset: 17,
    file: 'model.onnx',
    message: ['opset: expected no opset in the request', 'got 17'],
  },
];

async function listKeys(config: PipelineConfig, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of createMinioClient(config.s3).listObjectsV2(config.s3.modelsBucket, prefix, true))
    if (o.name) keys.push(o.name);
  return keys;
}

describe('bring-your-own ONNX bundles (Temporal, MinIO, MLflow)', () => {
  const live = useWorkerHost();
  let config: PipelineConfig;
  let client: Client;

  beforeAll(async () => {
    ({ config, client } = live);
    expect((await referenceEntries()).get('mel_spectrogram')?.shape[0]).toBe(REFERENCE_BATCH);
  });

  it('onnx-export run <dir> --wait: a brought graph with external data is staged as one file and registered, tagged brought with its producer', async () => {
    const dir = await broughtBundle('good', { externalData: true });
    const modelName = uniqueName('byo');
    const result = await exportWithCli(config, dir, modelName);
    expect(result.emission).toMatchObject({ source: 'brought', producer: PRODUCER, settings: {}, opset: 17 });
    expect(result.emission.architecture).toBeUndefined();
    expect(result.emission.checkpointSha256).not.toBe(result.sha256); // consolidated: not the bytes as given
    expect(result.validation).toMatchObject({ ok: true, problems: [], notChecked: [] });
    expect(result.parity.passed).toBe(true);
    expect(result.parity.outputs.positions!.mae).toBeLessThanOrEqual(1e-6);

    const versions = await versionsOf(config, modelName);
    expect(versions.map((v) => v.version)).toEqual([result.registry.version]);
    const tags = Object.fromEntries((versions[0]?.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      onnx_sha256: result.sha256,
      graph_source: 'brought',
      graph_producer: PRODUCER.name,
      graph_producer_version: PRODUCER.version,
    });
    const keys = await listKeys(config, `models/${modelName}/`);
    expect(keys.sort()).toContain(`models/${modelName}/${result.sha256}/MLmodel`);
    let mlmodel = '';
    for await (const chunk of await createMinioClient(config.s3).getObject(
      config.s3.modelsBucket,
      `models/${modelName}/${result.sha256}/MLmodel`,
    ))
      mlmodel += (chunk as Buffer).toString('utf8');
    expect(mlmodel).toContain('graph_source: brought');
    expect(mlmodel).toContain(`graph_producer: ${PRODUCER.name}`);
  });

  it('a brought graph with the checkpoint it was exported from beside it: the checkpoint is uploaded with the bundle, and the graph published is the brought one', async () => {
    const dir = await broughtBundle('with-checkpoint');
    copyFileSync(join(SMALL_BUNDLE, 'model.safetensors'), join(dir, 'model.safetensors'));
    copyFileSync(join(SMALL_BUNDLE, 'config.json'), join(dir, 'config.json'));
    const modelName = uniqueName('byo-ckpt');
    const result = await exportWithCli(config, dir, modelName);
    // The bytes as given (no external data): the brought graph, not one emitted from the weights.
    const given = createHash('sha256')
      .update(readFileSync(join(dir, 'model.onnx')))
      .digest('hex');
    expect(result.sha256).toBe(given);
    expect(result.emission).toMatchObject({ source: 'brought', producer: PRODUCER, checkpointSha256: given });
    expect(result.emission.architecture).toBeUndefined();
    expect(result.parity.passed).toBe(true);
    const tags = Object.fromEntries(
      ((await versionsOf(config, modelName))[0]?.tags ?? []).map((t) => [t.key, t.value]),
    );
    expect(tags).toMatchObject({ onnx_sha256: given, graph_source: 'brought', graph_producer: PRODUCER.name });
    // The same folder uploads to the same content address: its checkpoint and config went with it.
    const { uri } = await uploadBundle(config, dir);
    const prefix = uri.slice(`s3://${config.s3.checkpointsBucket}/`.length);
    const uploaded: string[] = [];
    for await (const o of createMinioClient(config.s3).listObjectsV2(config.s3.checkpointsBucket, prefix, true))
      if (o.name) uploaded.push(o.name.slice(prefix.length));
    expect(uploaded.sort()).toEqual(['config.json', 'model.onnx', 'model.safetensors', 'reference.safetensors']);
  });

  describe('bad bundles are refused fast, naming the file and the tensor; nothing is published or registered', () => {
    it.each(BAD)('$name', async (c) => {
      const { dir, files } = await c.make();
      const checkpointUri = await putRawBundle(
        config,
        dir,
        files ?? readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()),
        'byo-raw',
      );
      const modelName = uniqueName('byo-bad');
      const started = Date.now();
      const { handle } = await startExport(client, {
        checkpointUri,
        modelName,
        runId: uniqueName('run'),
        benchmark: QUICK_BENCHMARK,
        ...(c.opset !== undefined ? { opset: c.opset } : {}),
      });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect(err, 'the export must fail').toBeInstanceOf(WorkflowFailedError);
      const activity = (err as WorkflowFailedError).cause;
      expect(activity).toBeInstanceOf(ActivityFailure);
      const app = (activity as ActivityFailure).cause as ApplicationFailure;
      expect(app).toBeInstanceOf(ApplicationFailure);
      expect(app.nonRetryable).toBe(true);
      expect(app.message).toContain(`${checkpointUri}${c.file}`);
      for (const part of c.message) {
        if (typeof part === 'string') expect(app.message).toContain(part);
        else expect(app.message).toMatch(part);
      }
      expect(app.message, 'names objects, not the worker-local copies').not.toContain(config.workDir);
      expect(elapsed).toBeLessThan(FAIL_FAST_MS);
      expect(await listKeys(config, `models/${modelName}/`)).toEqual([]);
      expect(await versionsOf(config, modelName)).toEqual([]);
      console.log(
        `${c.name}: ${app.type} at ${(activity as ActivityFailure).activityType}, ${elapsed} ms: ${app.message}`,
      );

      if (c.clientRefuses) await expect(uploadBundle(config, dir)).rejects.toThrow(c.clientRefuses);
    });
  });

  it("the client's upload refuses a folder with no reference and one whose external data is missing, sending nothing", async () => {
    const noReference = await broughtBundle('client-no-reference');
    rmSync(join(noReference, 'reference.safetensors'));
    await expect(uploadBundle(config, noReference)).rejects.toThrow(
      `${join(noReference, 'reference.safetensors')}: the checkpoint bundle has no reference.safetensors`,
    );
    const missing = await broughtBundle('client-external-missing', { externalData: true });
    rmSync(join(missing, 'model.onnx.data'));
    await expect(uploadBundle(config, missing)).rejects.toThrow(
      /model\.onnx: tensor '[^']+': external data file 'model\.onnx\.data' does not exist in the bundle/,
    );
  });
});
