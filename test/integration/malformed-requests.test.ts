/**
 * No request, however malformed, can wedge an export: requests sent straight to the real Temporal
 * server (no CLI, no typed starter in front), through @temporalio/client and through the Python SDK,
 * each end Failed within seconds with a non-retryable InvalidInput naming the field, before any
 * activity: nothing under models/<name>/, no registered model, no version.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../config/environment';
import { MlflowClient } from '../../registry/mlflow-client';
import { createMinioClient } from '../../storage/minio-client';
import { venvPython } from './support/mlflow-python';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

/** A refusal is the workflow's first task: seconds, not a retried workflow task or an activity's backoff. */
const FAILS_WITHIN_MS = 15_000;

interface Malformed {
  name: string;
  /** The request's fields over a valid base (checkpointUri and a unique modelName), or the raw args. */
  patch?: Record<string, unknown>;
  args?: unknown[];
  /** The field the failure must name, as the message's `<field>: ` prefix. */
  field: string;
}

const CASES: Malformed[] = [
  {
    name: 'a duration that is not one',
    patch: { benchmark: { gpuScheduleToStartTimeout: 'banana' } },
    field: 'benchmark.gpuScheduleToStartTimeout',
  },
  { name: 'a numeric alias', patch: { alias: 42 }, field: 'alias' },
  { name: 'a string for a boolean', patch: { benchmark: { gpu: 'yes' } }, field: 'benchmark.gpu' },
  { name: 'a list for the benchmark settings', patch: { benchmark: [1, 32] }, field: 'benchmark' },
  { name: 'a string for the parity tolerances', patch: { parity: 'strict' }, field: 'parity' },
  { name: 'negative threads', patch: { benchmark: { threads: -1 } }, field: 'benchmark.threads' },
  { name: 'zero runs', patch: { benchmark: { maxRuns: 0 } }, field: 'benchmark.maxRuns' },
  { name: 'a negative time budget', patch: { benchmark: { timeBudgetMs: -5 } }, field: 'benchmark.timeBudgetMs' },
  { name: 'a snake_case field', patch: { opset_version: 17 }, field: 'opset_version' },
  { name: 'a reserved alias', patch: { alias: 'latest' }, field: 'alias' },
  { name: 'a batch size of zero', patch: { benchmark: { batchSizes: [0, 32] } }, field: 'benchmark.batchSizes.0' },
  { name: 'an opset as a string', patch: { opset: '17' }, field: 'opset' },
  { name: 'a description of 10 000 characters', patch: { description: 'x'.repeat(10_000) }, field: 'description' },
  {
    name: 'a GPU wait of a week',
    patch: { benchmark: { gpuScheduleToStartTimeout: '168h' } },
    field: 'benchmark.gpuScheduleToStartTimeout',
  },
  { name: 'no request at all', args: [], field: 'request' },
  { name: 'a string for the request', args: ['s3://bucket/p/'], field: 'request' },
  { name: 'a request without its checkpoint', args: [{ modelName: 'm' }], field: 'checkpointUri' },
];

interface Outcome {
  status: 'failed' | 'completed';
  type?: string;
  nonRetryable?: boolean | null;
  message?: string;
  elapsedMs: number;
}

describe('malformed requests sent straight to Temporal end Failed in seconds, naming the field', () => {
  const queue = uniqueName('malformed');
  const live = useWorkerHost({ taskQueues: { export: queue, bench: `${queue}-bench`, gpu: `${queue}-gpu` } });
  let config: PipelineConfig;
  let client: Client;
  let mlflow: MlflowClient;

  beforeAll(() => {
    ({ config, client } = live);
    mlflow = new MlflowClient(config.mlflow.trackingUri, config.mlflow.token);
  });

  function argsOf(c: Malformed, modelName: string): unknown[] {
    return (
      c.args ?? [{ checkpointUri: `s3://${config.s3.checkpointsBucket}/bundles/never-read/`, modelName, ...c.patch }]
    );
  }

  /** Nothing of the export exists anywhere: no activity ran, no object, no registered model. */
  async function expectNothingCreated(handle: WorkflowHandle | undefined, workflowId: string, modelName: string) {
    const history = await (handle ?? client.workflow.getHandle(workflowId)).fetchHistory();
    const events = history.events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(
      events.filter((e) => e.workflowTaskFailedEventAttributes),
      'no failed workflow task',
    ).toEqual([]);
    const keys: string[] = [];
    const minio = createMinioClient(config.s3);
    for await (const o of minio.listObjectsV2(config.s3.modelsBucket, `models/${modelName}/`, true))
      if (o.name) keys.push(o.name);
    expect(keys).toEqual([]);
    const found = await mlflow.getRegisteredModel(modelName);
    expect(found, 'no registered model').toBeUndefined();
  }

  function expectRefusal(c: Malformed, o: Outcome) {
    expect(o.status).toBe('failed');
    expect({ type: o.type, nonRetryable: o.nonRetryable }).toEqual({ type: 'InvalidInput', nonRetryable: true });
    expect(o.message).toMatch(/^invalid export request: /);
    expect(o.message).toContain(`${c.field}: `);
    expect(o.elapsedMs).toBeLessThan(FAILS_WITHIN_MS);
  }

  it.each(CASES)('@temporalio/client: $name → InvalidInput naming $field', async (c) => {
    const modelName = uniqueName('malformed-ts');
    const workflowId = uniqueName('malformed-ts');
    const started = Date.now();
    const handle = await client.workflow.start('exportModel', {
      taskQueue: queue,
      workflowId,
      args: argsOf(c, modelName),
      workflowExecutionTimeout: '2 minutes',
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    const app = cause as ApplicationFailure;
    const outcome: Outcome = {
      status: 'failed',
      type: app.type ?? undefined,
      nonRetryable: app.nonRetryable,
      message: app.message,
      elapsedMs: Date.now() - started,
    };
    expectRefusal(c, outcome);
    await expectNothingCreated(handle, workflowId, modelName);
    console.log(`ts  | ${c.name} | ${outcome.elapsedMs} ms | ${app.message.slice(0, 160)}`);
  });

  it.each([
    [{ modelName: 'm', version: 3, alias: 'production' }, 'version'],
    [{ modelName: 'm', version: '3', alias: 'production', gates: { maxMae: 'tight' } }, 'gates.maxMae'],
    [{ modelName: 'm', version: '3', alias: 'production', legacy_stage: 'Production' }, 'legacy_stage'],
    [undefined, 'request'],
  ])('promoteModel: %j → InvalidInput naming %s, before any activity', async (request, field) => {
    const started = Date.now();
    const handle = await client.workflow.start('promoteModel', {
      taskQueue: queue,
      workflowId: uniqueName('malformed-promote'),
      args: request === undefined ? [] : [request],
      workflowExecutionTimeout: '2 minutes',
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const app = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect({ type: app.type, nonRetryable: app.nonRetryable }).toEqual({ type: 'InvalidInput', nonRetryable: true });
    expect(app.message).toMatch(new RegExp(`^invalid promote request: ${field.replace('.', '\\.')}: `));
    expect(Date.now() - started).toBeLessThan(FAILS_WITHIN_MS);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
  });

  it('the Python SDK: every case → InvalidInput naming the field, in seconds, nothing created', async () => {
    const cases = CASES.map((c) => ({ c, modelName: uniqueName('malformed-py'), id: uniqueName('malformed-py') }));
    const file = join(mkdtempSync(join(tmpdir(), 'malformed-')), 'cases.json');
    writeFileSync(file, JSON.stringify(cases.map(({ c, modelName, id }) => ({ id, args: argsOf(c, modelName) }))));
    // Asynchronously: the worker host answering these runs lives in this process's event loop.
    const { stdout: out } = await promisify(execFile)(
      venvPython(config),
      [join(config.projectRoot, 'test/python/start_raw_exports.py'), queue, file],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: config.temporal.address,
          TEMPORAL_NAMESPACE: config.temporal.namespace,
        },
        timeout: 180_000,
      },
    );
    const results = JSON.parse(out.trim().split('\n').pop() ?? '[]') as {
      id: string;
      status: 'failed' | 'completed';
      type?: string;
      non_retryable?: boolean;
      message?: string;
      elapsed_ms: number;
    }[];
    expect(results.map((r) => r.id)).toEqual(cases.map((k) => k.id));
    for (const [i, { c, modelName, id }] of cases.entries()) {
      const r = results[i];
      if (!r) throw new Error(`no result for ${c.name}`);
      expectRefusal(c, {
        status: r.status,
        type: r.type,
        nonRetryable: r.non_retryable,
        message: r.message,
        elapsedMs: r.elapsed_ms,
      });
      await expectNothingCreated(undefined, id, modelName);
      console.log(`py  | ${c.name} | ${r.elapsed_ms} ms | ${(r.message ?? '').slice(0, 160)}`);
    }
  });
});
