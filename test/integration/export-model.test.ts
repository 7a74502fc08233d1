/**
 * The whole export against the real Temporal, MinIO and MLflow: a PyTorch-made bundle is uploaded,
 * exportModel runs every stage on a real worker host, and the result is checked in the servers
 * themselves: exactly one published model directory and one registry version, found again by a
 * second start; a parity failure and an invalid request end the export with nothing published.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { PipelineConfig } from '../../config/environment';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { PROGRESS_QUERY, type ExportProgress } from '../../common/export-contract';
import type { ExportRequest } from '../../common/export-request';
import { MlflowClient } from '../../registry/mlflow-client';
import { createMinioClient } from '../../storage/minio-client';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { useWorkerHost } from './support/worker-host';
import { uniqueName } from './support/stack';

/** Small benchmark settings: the test checks the stage runs and reports, not the numbers. */
const QUICK_BENCHMARK = {
  batchSizes: [1, 4],
  maxRuns: 20,
  timeBudgetMs: 1_000,
  gpuScheduleToStartTimeout: '3 seconds',
};

async function listKeys(config: PipelineConfig, prefix: string): Promise<string[]> {
  const minio = createMinioClient(config.s3);
  const keys: string[] = [];
  for await (const obj of minio.listObjectsV2(config.s3.modelsBucket, prefix, true)) if (obj.name) keys.push(obj.name);
  return keys.sort();
}

async function versionsOf(
  config: PipelineConfig,
  modelName: string,
): Promise<{ version: string; tags?: { key: string; value: string }[] }[]> {
  const mlflow = new MlflowClient(config.mlflow.trackingUri);
  const out = await mlflow.call<{ model_versions?: { version: string; tags?: { key: string; value: string }[] }[] }>(
    'GET',
    'model-versions/search',
    { filter: `name='${modelName}'` },
  );
  return out.model_versions ?? [];
}

describe('exportModel end to end (Temporal, MinIO, MLflow, PyTorch fixtures)', () => {
  const live = useWorkerHost();
  let config: PipelineConfig;
  let client: Client;
  let checkpointUri: string;

  beforeAll(async () => {
    ({ config, client } = live);
    const bundle = await makeBundle(SMALL_CONVNEXT);
    checkpointUri = (await uploadBundle(config, bundle)).uri;
  });

  it('exports, publishes one model directory and registers one version; a second start finds the same', async () => {
    const modelName = uniqueName('e2e-small');
    const request: ExportRequest = { checkpointUri, modelName, runId: uniqueName('run'), benchmark: QUICK_BENCHMARK };
    const first = await startExport(client, request);
    expect(first.outcome).toBe('started');
    const result = await first.handle.result();

    expect(result.workflowId).toBe(`export-${modelName}-${request.runId}`);
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.validation.ok).toBe(true);
    expect(result.parity.passed).toBe(true);
    expect(result.parity.outputs.positions!.mae).toBeLessThanOrEqual(1e-6);
    expect(result.latency.cpu.batches.map((b) => b.batchSize)).toEqual([1, 4]);
    expect(result.latency.gpu.status).toBe('skipped');
    expect(result.registry.version).toBe('1');
    expect(result.uiLink).toContain(`/workflows/${encodeURIComponent(result.workflowId)}/`);

    const keys = await listKeys(config, `models/${modelName}/`);
    expect(keys.filter((k) => k.endsWith('/MLmodel'))).toEqual([`models/${modelName}/${result.sha256}/MLmodel`]);
    for (const file of [
      'model.onnx',
      'requirements.txt',
      'python_env.yaml',
      'parity-report.json',
      'latency-report.json',
      'latency.svg',
    ]) {
      expect(keys, file).toContain(`models/${modelName}/${result.sha256}/${file}`);
    }
    const svg = await createMinioClient(config.s3).getObject(
      config.s3.modelsBucket,
      `models/${modelName}/${result.sha256}/latency.svg`,
    );
    let svgText = '';
    for await (const chunk of svg) svgText += (chunk as Buffer).toString('utf8');
    expect(svgText).toMatch(/^<svg|<svg /);
    const versions = await versionsOf(config, modelName);
    expect(versions).toHaveLength(1);
    expect(versions[0]?.tags?.find((t) => t.key === 'onnx_sha256')?.value).toBe(result.sha256);

    const progress = await first.handle.query<ExportProgress>(PROGRESS_QUERY);
    expect(progress.stage).toBe('done');
    expect(progress.completedStages).toEqual(['emit', 'validate', 'parity', 'benchmark', 'publish', 'register']);
    const described = await first.handle.describe();
    expect(described.typedSearchAttributes.get({ name: 'ExportStage', type: 'KEYWORD' } as never)).toBe('done');

    // The same export again: it is found, not redone.
    const second = await startExport(client, request);
    expect(second.outcome).toBe('found-completed');
    expect((await second.handle.result()).registry.version).toBe(result.registry.version);
    expect(await versionsOf(config, modelName)).toHaveLength(1);
  });

  it('two concurrent starts of one export: one run, one "started", the other "joined-running"', async () => {
    const request: ExportRequest = {
      checkpointUri,
      modelName: uniqueName('e2e-race'),
      runId: uniqueName('run'),
      benchmark: QUICK_BENCHMARK,
    };
    // A queue no worker polls, so the run stays running while both starts look at it.
    const taskQueue = uniqueName('no-worker');
    const starts = await Promise.all([
      startExport(client, request, { taskQueue }),
      startExport(client, request, { taskQueue }),
    ]);
    try {
      expect(starts.map((s) => s.outcome).sort()).toEqual(['joined-running', 'started']);
      const runIds = await Promise.all(starts.map(async (s) => (await s.handle.describe()).runId));
      expect(runIds[0]).toBe(runIds[1]);
      const third = await startExport(client, request, { taskQueue });
      expect(third.outcome).toBe('joined-running');
    } finally {
      await starts[0]?.handle.terminate('test done');
    }
  });

  it('fails a parity miss at once with the report attached, and publishes nothing', async () => {
    const modelName = uniqueName('e2e-parity');
    // A tolerance no float32 graph can meet makes the real comparison fail.
    const request: ExportRequest = {
      checkpointUri,
      modelName,
      runId: uniqueName('run'),
      parity: { mae: 1e-30, maxAbs: 1e-30 },
      benchmark: QUICK_BENCHMARK,
    };
    const { handle } = await startExport(client, request);
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('ParityFailed');
    const report = (cause as ApplicationFailure).details?.[0] as { passed: boolean; failures: string[] };
    expect(report.passed).toBe(false);
    expect(report.failures.length).toBeGreaterThan(0);
    expect(await listKeys(config, `models/${modelName}/`)).toEqual([]);
    expect(await versionsOf(config, modelName)).toEqual([]);
    const history = await handle.fetchHistory();
    const attempts = history.events
      ?.filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes?.attempt);
    expect(attempts?.every((a) => a === 1)).toBe(true);
  });

  it('refuses a model name that would escape its prefix before any stage runs', async () => {
    const handle = await client.workflow.start('exportModel', {
      taskQueue: 'onnx-export',
      workflowId: uniqueName('e2e-badname'),
      args: [{ checkpointUri, modelName: '../escape' }],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidInput');
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toContain('modelName');
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });
});
