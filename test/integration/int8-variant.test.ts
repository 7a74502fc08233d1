/**
 * Integration: the int8 variant (issue 14) through the real exportModel workflow on a worker host,
 * against the real Temporal, MinIO and MLflow of the local stack, and quantize/ for real. A
 * PyTorch-made bundle with calibration.safetensors (scripts/fixtures/make_localizationnet.py) is
 * exported with variants fp32,int8: fp32 is registered under the model name, int8 under
 * `<name>-int8` with the tags naming its fp32 origin, and MLflow's own Python client loads the int8
 * version. A second export of the same bundle registers nothing new; an int8 tolerance no int8 graph
 * can meet fails the variant alone (fp32 still published and registered), after the accuracy-aware
 * search reached its bound, naming the best it reached; a tight gate plain int8 misses is met by
 * keeping its most sensitive nodes float (tags and the stored report list them); `onnx-export
 * promote` (dist/: `npm run build` first) promotes the int8 version on its own tags.
 */
import { uploadBundle } from '../../client/bundle-upload';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExport } from '../../client/export-starter';
import { DEFAULT_INT8_TOLERANCES, EXPORT_WORKFLOW_TYPE } from '../../common/export-contract';
import type { ExportRequest } from '../../common/export-request';
import { searchAttributeKeys } from '../../common/search-attributes';
import type { PromotionResult } from '../../common/promotion';
import { MlflowClient, type ModelVersion } from '../../registry/mlflow-client';
import { ContentAddressedStore, createMinioClient, minioS3Operations } from '../../storage';
import type { ExportResult, exportModel } from '../../workflows/export-model';
import { TASK_QUEUES } from '../../common/constants';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { mlflowLoadCheck, venvPython, versionByAlias } from './support/mlflow-python';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

const run = promisify(execFile);
/** The test checks the variant flow, not latency: the smallest benchmark the stage accepts. */
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 5, timeBudgetMs: 500, gpu: false };
const INT8 = ['fp32', 'int8'] as ExportRequest['variants'];

describe('the int8 variant (Temporal, MinIO, MLflow, quantize/, MLflow Python client)', () => {
  const live = useWorkerHost();
  const modelName = uniqueName('int8');
  const failingName = uniqueName('int8-fails');
  const fallbackName = uniqueName('int8-fallback');
  let bundle: string;
  let withCalibration: string;
  let withoutCalibration: string;
  let python: string;
  let mlflow: MlflowClient;
  let first: ExportResult;
  let firstRequest: ExportRequest;

  /** Uploads only `files` of the bundle to a prefix of its own (a bundle without its calibration file). */
  const upload = async (dir: string, files: string[]): Promise<string> => {
    const store = new ContentAddressedStore(minioS3Operations(createMinioClient(live.config.s3)), {
      bucket: live.config.s3.checkpointsBucket,
    });
    const prefix = `bundles/${uniqueName('int8-bundle')}/`;
    for (const f of files) await store.uploadFile(join(dir, f), `${prefix}${f}`);
    return `s3://${live.config.s3.checkpointsBucket}/${prefix}`;
  };
  const requestWith = (request: Partial<ExportRequest>): ExportRequest => ({
    checkpointUri: withCalibration,
    modelName,
    runId: uniqueName('run'),
    benchmark: QUICK_BENCHMARK,
    variants: INT8,
    ...request,
  });
  const exportWith = async (request: Partial<ExportRequest>): Promise<ExportResult> =>
    (await startExport(live.client, requestWith(request))).handle.result();
  const tagsOf = (v: ModelVersion | undefined) => Object.fromEntries((v?.tags ?? []).map((t) => [t.key, t.value]));
  const versionsOf = (name: string) => mlflow.searchModelVersions(`name='${name}'`);
  const published = (r: ExportResult) => {
    const v = r.variants.int8;
    if (v?.status !== 'published') throw new Error(`int8 variant not published: ${JSON.stringify(v)}`);
    return v;
  };

  beforeAll(async () => {
    python = venvPython(live.config);
    mlflow = new MlflowClient(live.config.mlflow.trackingUri, live.config.mlflow.token);
    bundle = await makeBundle({ ...SMALL_CONVNEXT, seed: 14, calibrationSamples: 16 });
    const required = ['config.json', 'model.safetensors', 'reference.safetensors'];
    // As `onnx-export run <dir>` uploads it: the folder's calibration.safetensors goes along.
    withCalibration = (await uploadBundle(live.config, bundle)).uri;
    withoutCalibration = await upload(bundle, required);
  });

  afterAll(async () => {
    for (const name of [modelName, failingName, fallbackName].flatMap((n) => [n, `${n}-int8`]))
      await mlflow.call('DELETE', 'registered-models/delete', { name }).catch(() => undefined);
  });

  it('variants fp32,int8 registers fp32 under <name> and int8 under <name>-int8, tagged with its fp32 origin and calibration', async () => {
    firstRequest = requestWith({});
    first = await (await startExport(live.client, firstRequest)).handle.result();
    const int8 = published(first);
    // fp32: where it always was, now tagged variant=fp32.
    expect(first.registry).toMatchObject({ modelName, alias: 'staging', created: true });
    expect(tagsOf(await mlflow.getModelVersion(modelName, first.registry.version))).toMatchObject({
      variant: 'fp32',
      onnx_sha256: first.sha256,
    });
    // int8: its own graph, its own registered model and directory.
    expect(int8.sha256).not.toBe(first.sha256);
    expect(int8.onnx.uri).toBe(`s3://${live.config.s3.modelsBucket}/staging/${int8.sha256}/model.onnx`);
    expect(int8.onnx.bytes).toBeLessThan(first.onnx.bytes);
    expect(int8.published.source).toBe(`s3://${live.config.s3.modelsBucket}/models/${modelName}-int8/${int8.sha256}`);
    expect(int8.registry).toMatchObject({
      modelName: `${modelName}-int8`,
      alias: 'staging',
      created: true,
      modelUri: `models:/${modelName}-int8/${int8.registry.version}`,
    });
    expect(int8.validation.ok).toBe(true);
    expect(int8.parity.passed).toBe(true);
    expect(int8.quantization.calibration).toMatchObject({
      source: 'calibration.safetensors',
      path: `${withCalibration}calibration.safetensors`,
      samples: 16,
    });
    const tags = tagsOf(await mlflow.getModelVersion(`${modelName}-int8`, int8.registry.version));
    expect(tags).toMatchObject({
      variant: 'int8',
      onnx_sha256: int8.sha256,
      fp32_model_version: first.registry.version,
      fp32_onnx_sha256: first.sha256,
      calibration_method: int8.quantization.method,
      calibration_source: 'calibration.safetensors',
      cpu_p95_ms: String(int8.latency.cpu.batches[0]?.stats.p95),
    });
    expect(Number(tags.parity_mean_abs_error)).toBeGreaterThan(0);
    expect(Number(tags.parity_mean_abs_error)).toBeLessThanOrEqual(DEFAULT_INT8_TOLERANCES.mae);
    // Each registered model holds its own variant only.
    expect((await versionsOf(modelName)).map((v) => tagsOf(v).variant)).toEqual(['fp32']);
    expect((await versionsOf(`${modelName}-int8`)).map((v) => tagsOf(v).variant)).toEqual(['int8']);
  });

  it("MLflow's Python client loads the int8 version and it predicts the PyTorch reference within the int8 tolerance", () => {
    const int8 = published(first);
    const report = mlflowLoadCheck(
      live.config,
      python,
      int8.registry.modelUri,
      join(bundle, 'reference.safetensors'),
      DEFAULT_INT8_TOLERANCES,
    );
    expect(report.signature_inputs).toEqual(['mel_spectrogram']);
    expect(report.ok).toBe(true);
    // Quantized for real: not the fp32 graph's ~1e-7 errors.
    expect(report.onnx.positions?.max_abs).toBeGreaterThan(1e-5);
    expect(versionByAlias(live.config, python, `${modelName}-int8`, 'staging')).toBe(int8.registry.version);
  });

  it('a second export of the same bundle registers neither variant again', async () => {
    // The starter joins the completed export (one export per run) ...
    const joined = await startExport(live.client, firstRequest);
    expect(joined.outcome).toBe('found-completed');
    // ... so a second workflow of the same request (same bundle and run: the same bytes) is started by
    // hand: every stage runs again and finds what the first one published and registered.
    const second = await live.client.workflow.execute<typeof exportModel>(EXPORT_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUES.export,
      workflowId: uniqueName('export-again'),
      args: [firstRequest],
    });
    expect(second.workflowId).not.toBe(first.workflowId);
    expect(second.sha256).toBe(first.sha256);
    expect(second.registry).toMatchObject({ version: first.registry.version, created: false });
    // (The directories are rewritten: this run's workflow id and benchmark reports are new.)
    expect(second.published.source).toBe(first.published.source);
    const int8 = published(second);
    expect(int8.sha256).toBe(published(first).sha256);
    expect(int8.registry).toMatchObject({ version: published(first).registry.version, created: false });
    expect(int8.published.source).toBe(published(first).published.source);
    expect(await versionsOf(modelName)).toHaveLength(1);
    expect(await versionsOf(`${modelName}-int8`)).toHaveLength(1);
  });

  it('an int8 tolerance no int8 graph meets fails the variant alone: fp32 is published and registered, int8 names parity', async () => {
    const result = await exportWith({
      modelName: failingName,
      checkpointUri: withoutCalibration,
      int8: { parity: { mae: 1e-9 } },
    });
    expect(result.registry).toMatchObject({ modelName: failingName, created: true });
    expect(result.published.files).toContain('MLmodel');
    expect(result.variants.int8).toMatchObject({ status: 'failed', stage: 'int8:parity', failureType: 'ParityFailed' });
    const reason = result.variants.int8?.status === 'failed' ? result.variants.int8.reason : '';
    expect(reason).toMatch(/parity failed/);
    // The search kept float as many nodes as the default bound allows, and says the best it reached.
    expect(reason).toMatch(
      /accuracy-aware int8 stopped at the bound \(at most (\d+) of (\d+) quantizable nodes float, maxFloatFraction 0\.2\); the best graph it found \(the one parity checked\) keeps (\d+) nodes float, MAE [0-9.]+e-\d+, max abs error [0-9.]+e-\d+ \(gate MAE ≤ 1e-9/,
    );
    const [, bound, quantizable, best] = /at most (\d+) of (\d+) quantizable.* keeps (\d+) nodes/.exec(reason) ?? [];
    expect(Number(bound)).toBe(Math.floor(Number(quantizable) * 0.2));
    expect(Number(best)).toBeLessThanOrEqual(Number(bound));
    expect(await versionsOf(failingName)).toHaveLength(1);
    expect(await versionsOf(`${failingName}-int8`)).toHaveLength(0);

    const handle = live.client.workflow.getHandle(result.workflowId);
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.typedSearchAttributes.get(searchAttributeKeys.exportStage)).toBe('done');
    // Without calibration.safetensors the bundle's reference inputs calibrated (the quantize activity's result).
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'quantizeGraph',
    );
    const completed = events.find(
      (e) =>
        e.activityTaskCompletedEventAttributes &&
        String(e.activityTaskCompletedEventAttributes.scheduledEventId) === String(scheduled?.eventId),
    );
    const payload = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    expect(payload).toBeDefined();
    const quantized = defaultPayloadConverter.fromPayload<{ report: { calibration: { source: string } } }>(payload!);
    expect(quantized.report.calibration.source).toBe('reference.safetensors');
  });

  it('a tight int8 gate plain int8 misses is met by keeping its most sensitive nodes float, listed in the tags and the stored report', async () => {
    // Plain int8 of this bundle: MAE 6.6e-3 on the reference; 5e-3 is met with a few nodes float
    // (measured: 4.6e-3), within half of the quantizable nodes.
    const result = await exportWith({
      modelName: fallbackName,
      int8: { parity: { mae: 5e-3 }, maxFloatFraction: 0.5 },
    });
    const int8 = published(result);
    const search = int8.quantization.accuracySearch;
    expect(search).toMatchObject({ passed: true, stop: 'passed', gate: { mae: 5e-3, maxAbs: 0.15 } });
    expect(search?.rounds[0]).toMatchObject({ kind: 'plain', floatNodes: 0, passed: false });
    const floatNodes = search?.floatNodes.map((f) => f.node) ?? [];
    expect(floatNodes.length).toBeGreaterThan(0);
    expect(floatNodes.length).toBeLessThanOrEqual(Math.floor((search?.quantizable ?? 0) * 0.5));
    // The report's keptFloat lists the same nodes in graph order.
    expect([...(int8.quantization.keptFloat?.nodes ?? [])].sort()).toEqual([...floatNodes].sort());
    expect(int8.parity.passed).toBe(true);
    expect(Math.max(...Object.values(int8.parity.outputs).map((o) => o.mae))).toBeLessThanOrEqual(5e-3);
    // The search's graph is the one staged (its last passing round's bytes).
    expect(search?.rounds.some((r) => r.passed && r.sha256 === int8.sha256)).toBe(true);
    const tags = tagsOf(await mlflow.getModelVersion(`${fallbackName}-int8`, int8.registry.version));
    expect(tags).toMatchObject({
      int8_float_nodes: String(floatNodes.length),
      int8_quantizable_nodes: String(search?.quantizable),
      int8_float_node_names: floatNodes.join(','),
    });
    // The stored report beside the parity and latency reports lists them too.
    expect(int8.published.files).toContain('quantization-report.json');
    const store = new ContentAddressedStore(minioS3Operations(createMinioClient(live.config.s3)), {
      bucket: live.config.s3.modelsBucket,
    });
    const key = `models/${fallbackName}-int8/${int8.sha256}/quantization-report.json`;
    const stored = JSON.parse((await store.readSmall(key)).toString('utf8')) as typeof int8.quantization;
    expect(stored.accuracySearch?.floatNodes.map((f) => f.node)).toEqual(floatNodes);
    // fp32 is as it always is.
    expect(result.registry).toMatchObject({ modelName: fallbackName, created: true });
  });

  it('onnx-export promote <name>-int8 <version> promotes the int8 version on its own recorded tags', async () => {
    const int8 = published(first);
    const out = await run(
      process.execPath,
      [
        join(live.config.projectRoot, 'bin/onnx-export.js'),
        'promote',
        `${modelName}-int8`,
        int8.registry.version,
        '--to',
        'production',
        '--max-mae',
        String(DEFAULT_INT8_TOLERANCES.mae),
        '--max-p95-ms',
        '60000',
        '--json',
      ],
      { env: process.env },
    );
    expect(out.stderr).toBe('');
    const result = JSON.parse(out.stdout) as PromotionResult & { ok: boolean };
    const tags = tagsOf(await mlflow.getModelVersion(`${modelName}-int8`, int8.registry.version));
    expect(result).toMatchObject({
      ok: true,
      version: int8.registry.version,
      verdict: 'promoted',
      alias: { alias: 'production', changed: true },
      check: {
        verdict: 'pass',
        sha256: int8.sha256,
        recorded: { parityMeanAbsError: Number(tags.parity_mean_abs_error), cpuP95Ms: Number(tags.cpu_p95_ms) },
      },
    });
    // The int8 MAE it gated on is the int8 version's, not fp32's.
    const fp32Mae = Number(
      tagsOf(await mlflow.getModelVersion(modelName, first.registry.version)).parity_mean_abs_error,
    );
    expect(result.check.recorded.parityMeanAbsError).not.toBe(fp32Mae);
    expect(versionByAlias(live.config, python, `${modelName}-int8`, 'production')).toBe(int8.registry.version);
  });
});
