/**
 * Fault injection against real servers and real worker processes. Each case breaks something in the
 * middle of an export and then checks the servers themselves (support/published-state.ts): the
 * export completes; MinIO holds one object under staging/<sha256>/, no incomplete multipart upload,
 * one MLflow model directory under models/<name>/ whose model.onnx, downloaded and hashed, is the
 * export's sha256 and the one tagged on the single MLflow version, which is the version the export
 * returned.
 *
 * Runs on its own throw-away stack (scripts/stack.sh on ports the OS picks free, and a temp state
 * folder) so stopping MinIO, MLflow or Temporal never disturbs the stack other tests share. Workers
 * are `node bin/onnx-export.js worker` processes (dist/ must be built) so SIGKILL is a real crash;
 * they reach MinIO through a counting TCP proxy that can slow the upload down enough to interrupt it,
 * and MLflow through a proxy that can let the server apply `model-versions/create` and keep its
 * answer from the worker while the test stops the server.
 *
 * A killed worker's activity is retried once its heartbeat timeout (1 minute) expires: the kill cases
 * take about a minute each by design.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type PipelineConfig } from '../../config/environment';
import { connectClient } from '../../temporal/connect';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { snapshot } from '../../client/export-view';
import { UPLOAD_DEFAULTS } from '../../common/constants';
import { PROGRESS_QUERY, type ExportProgress } from '../../common/export-contract';
import type { ExportRequest } from '../../common/export-request';
import { MlflowClient, type ModelVersion } from '../../registry/mlflow-client';
import type { ExportResult, exportModel } from '../../workflows/export-model';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { expectPublishedState } from './support/published-state';
import { uniqueName } from './support/stack';
import {
  freePorts,
  sleep,
  startGateProxy,
  startThrottledProxy,
  startWorkerProcess,
  stopAllWorkers,
  STACK_PORTS,
  throwAwayStack,
  waitFor,
  type GateProxy,
  type ThrottledProxy,
  type WorkerProcess,
} from './support/fault-injection';

const MiB = 1024 * 1024;
/** Smaller parts than the 16 MiB default (ONNX_EXPORT_UPLOAD_PART_BYTES): 22 parts for convnext_tiny, so "the middle" is well defined. */
const PART_BYTES = 5 * MiB;
/** While throttled, the upload runs at this pace: ~9 s for convnext_tiny's 112 MB. */
const SLOW_UPLOAD = 12 * MiB;
/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED */
const ACTIVITY_STARTED = 2;
const QUICK_BENCHMARK = { gpu: false, batchSizes: [1], maxRuns: 20, timeBudgetMs: 500 };

const stack = throwAwayStack(freePorts(STACK_PORTS));

/** What each case measured, printed at the end (the report's figures). */
const findings: Record<string, unknown> = {};

type ExportHandle = WorkflowHandle<typeof exportModel>;

describe('fault injection on a real stack with real worker processes', () => {
  let config: PipelineConfig;
  let client: Client;
  let s3: ThrottledProxy;
  let mlflowGate: GateProxy;
  let tinyUri: string;
  let tinyBundleBytes: number;
  let smallUri: string;
  /** The long-lived worker of the server-fault cases. */
  let steady: WorkerProcess | undefined;
  const bundleDirs: string[] = [];

  const baseEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['AWS_ENDPOINT_URL', 'MLFLOW_S3_ENDPOINT_URL', 'ONNX_EXPORT_UPLOAD_PART_BYTES']) delete env[k];
    return {
      ...env,
      ONNX_EXPORT_STATE_DIR: stack.stateDir,
      TEMPORAL_ADDRESS: stack.endpoints.temporal,
      TEMPORAL_UI_URL: stack.endpoints.temporalUi,
      TEMPORAL_NAMESPACE: 'default',
      AWS_ENDPOINT_URL_S3: stack.endpoints.s3,
      MLFLOW_TRACKING_URI: stack.endpoints.mlflow,
    };
  };
  /** Workers see MinIO and MLflow through the proxies. */
  const workerEnv = (): NodeJS.ProcessEnv => ({
    ...baseEnv(),
    AWS_ENDPOINT_URL_S3: s3.url,
    MLFLOW_TRACKING_URI: mlflowGate.url,
    ONNX_EXPORT_UPLOAD_PART_BYTES: String(PART_BYTES),
  });

  beforeAll(async () => {
    const bundles = Promise.all([makeBundle({ backbone: 'convnext_tiny' }), makeBundle(SMALL_CONVNEXT)]);
    await stack.up();
    config = loadConfig(baseEnv());
    s3 = await startThrottledProxy(stack.endpoints.s3);
    mlflowGate = await startGateProxy(stack.endpoints.mlflow);
    client = await connectClient(config);
    const [tiny, small] = await bundles;
    bundleDirs.push(tiny, small);
    tinyBundleBytes = readdirSync(tiny).reduce((n, f) => n + statSync(join(tiny, f)).size, 0);
    tinyUri = (await uploadBundle(config, tiny)).uri;
    smallUri = (await uploadBundle(config, small)).uri;
  });

  afterAll(async () => {
    process.stdout.write(`\nfault-injection findings:\n${JSON.stringify(findings, null, 2)}\n`);
    await client?.connection.close().catch(() => undefined);
    await stopAllWorkers();
    await s3?.close();
    await mlflowGate?.close();
    await stack.down().catch((err: unknown) => process.stderr.write(`stack down: ${String(err)}\n`));
    for (const dir of bundleDirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Registry versions of a model name, straight from MLflow (not through the proxy). */
  async function versionsOf(modelName: string): Promise<ModelVersion[]> {
    return new MlflowClient(config.mlflow.trackingUri).searchModelVersions(`name='${modelName}'`);
  }

  /**
   * The invariant of every case, read from the servers (support/published-state.ts): one staged
   * object, no incomplete multipart upload, one model directory whose downloaded model.onnx hashes to
   * the sha256 of the result and of the single registry version, which the result names.
   */
  async function expectPublishedOnce(result: ExportResult): Promise<void> {
    expect(result.validation.ok).toBe(true);
    expect(result.parity.passed).toBe(true);
    await expectPublishedState(config, result);
  }

  /** `promise`, or an error naming `what` after `ms`. */
  async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The result, waiting through a server restart (the client reconnects); bounded. */
  async function resultOf(handle: ExportHandle, timeoutMs: number): Promise<ExportResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no result within ${timeoutMs} ms`)),
            Math.max(1, deadline - Date.now()),
          );
        });
        return await Promise.race([handle.result(), timeout]);
      } catch (err) {
        if (err instanceof WorkflowFailedError || Date.now() >= deadline) throw err;
        await sleep(1_000);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** The running activity of this type, with its decoded heartbeat details. */
  async function pending(
    handle: ExportHandle,
    type: string,
  ): Promise<{ started: boolean; attempt: number; details: unknown } | undefined> {
    const described = await handle.describe();
    const p = described.raw.pendingActivities?.find((a) => a.activityType?.name === type);
    if (!p) return undefined;
    const payload = p.heartbeatDetails?.payloads?.[0];
    return {
      started: p.state === ACTIVITY_STARTED,
      attempt: p.attempt ?? 1,
      details: payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
    };
  }

  /** Attempt numbers of each activity type that completed, from the history. */
  async function attempts(handle: ExportHandle): Promise<Record<string, number[]>> {
    const history = await handle.fetchHistory();
    const scheduled = new Map<string, string>();
    const out: Record<string, number[]> = {};
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
      const st = e.activityTaskStartedEventAttributes;
      if (st) (out[scheduled.get(String(st.scheduledEventId)) ?? '?'] ??= []).push(st.attempt ?? 1);
    }
    return out;
  }

  function exportRequest(
    uri: string,
    prefix: string,
    benchmark: ExportRequest['benchmark'] = QUICK_BENCHMARK,
  ): ExportRequest {
    return { checkpointUri: uri, modelName: uniqueName(prefix), runId: uniqueName('run'), benchmark };
  }

  it('a worker SIGKILLed in the middle of the multipart upload: another worker resumes from the finished parts', async () => {
    const first = await startWorkerProcess('upload-a', workerEnv());
    const upAtStart = s3.bytesUp;
    s3.rates.up = SLOW_UPLOAD;
    const { handle } = await startExport(client, exportRequest(tinyUri, 'fault-upload'));
    const atKill = await waitFor(
      'upload heartbeat with finished parts',
      async () => {
        const s = await snapshot(handle);
        return s.runningActivity === 'emitGraph' &&
          s.upload &&
          s.upload.done >= 2 * PART_BYTES &&
          s.upload.done < s.upload.total
          ? s.upload
          : undefined;
      },
      180_000,
      150,
    );
    await first.kill('SIGKILL');
    s3.rates.up = undefined;
    const second = await startWorkerProcess('upload-b', workerEnv());
    const result = await resultOf(handle, 300_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nworker b:\n${second.output()}`);
    });
    const wireTotal = s3.bytesUp - upAtStart;

    await expectPublishedOnce(result);
    const upload = result.emission.upload;
    expect(upload.method).toBe('multipart');
    expect(upload.bytesSent + upload.bytesReused).toBe(result.onnx.bytes);
    // At least what the last heartbeat before the kill recorded was reused, not sent again.
    expect(upload.bytesReused).toBeGreaterThanOrEqual(atKill.done);
    expect(upload.bytesSent).toBeLessThan(result.onnx.bytes);
    expect((await attempts(handle)).emitGraph).toEqual([2]);
    // Re-sent on the wire: at most the parts that were in flight when the worker died (4 at a time),
    // plus request headers; never the whole file again.
    const resent = wireTotal - result.onnx.bytes;
    expect(resent).toBeLessThanOrEqual(UPLOAD_DEFAULTS.concurrency * PART_BYTES + MiB);
    findings.workerKilledMidUpload = {
      onnxBytes: result.onnx.bytes,
      partBytes: PART_BYTES,
      heartbeatAtKill: atKill,
      resumedAttempt: upload,
      wireBytesTotal: wireTotal,
      bytesResent: resent,
    };
    await second.kill('SIGTERM');
  });

  it('a worker SIGKILLed during emission and another during the benchmark: the export completes', async () => {
    const c = await startWorkerProcess('emit-c', workerEnv());
    const downAtStart = s3.bytesDown;
    s3.rates.down = 40 * MiB; // the bundle download (112 MB) takes ~3 s, then emission
    // Batch 32 as well: the benchmark stops early once its median is precise (±2%), which batch 1
    // of this model alone reaches within about a second of starting on a quiet machine, sooner than
    // the kill below could be sure to land; batch 32's ten runs alone take seconds.
    const request = exportRequest(tinyUri, 'fault-emit-bench', {
      gpu: false,
      batchSizes: [1, 32],
      maxRuns: 100_000,
      timeBudgetMs: 6_000,
    });
    const { handle } = await startExport(client, request);
    // Killed once the bundle is on the worker and before its upload starts: in the emitter itself.
    await waitFor(
      'the bundle downloaded by the emitting worker',
      async () => (s3.bytesDown - downAtStart >= tinyBundleBytes ? true : undefined),
      120_000,
      50,
    );
    const before = await snapshot(handle);
    await c.kill('SIGKILL');
    s3.rates.down = undefined;
    expect(before.runningActivity).toBe('emitGraph');
    expect(before.upload).toBeUndefined();

    const d = await startWorkerProcess('bench-d', workerEnv());
    // Killed at its first heartbeat (it is running on d), while it opens its session.
    const bench = await waitFor(
      'the CPU benchmark running',
      async () => {
        const p = await pending(handle, 'benchmarkLatency');
        return p?.started && p.details !== undefined ? p : undefined;
      },
      240_000,
      100,
    );
    await d.kill('SIGKILL');
    const e = await startWorkerProcess('finish-e', workerEnv());
    const result = await resultOf(handle, 300_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nworker e:\n${e.output()}`);
    });

    await expectPublishedOnce(result);
    const tries = await attempts(handle);
    expect(tries.emitGraph).toEqual([2]);
    // The benchmark that counted is the one worker e ran after d died in it.
    expect(result.latency.cpu.ranOn?.workerIdentity).toBe(`${e.pid}@${hostname()}`);
    expect(tries.benchmarkLatency).toEqual([2]);
    findings.workerKilledDuringEmissionAndBenchmark = {
      emitAttempts: tries.emitGraph,
      benchmarkAttempts: tries.benchmarkLatency,
      benchmarkAttemptKilled: bench.attempt,
      benchmarkRanOn: result.latency.cpu.ranOn?.workerIdentity,
      upload: result.emission.upload,
    };
    await e.kill('SIGTERM');
  });

  it('MinIO stopped for 20 s in the middle of the multipart upload, then started again: a later attempt resumes it, reusing the finished parts', async () => {
    steady = await startWorkerProcess('steady', workerEnv());
    s3.rates.up = SLOW_UPLOAD;
    const { handle } = await startExport(client, exportRequest(tinyUri, 'fault-minio'));
    const atStop = await waitFor(
      'upload heartbeat with finished parts',
      async () => {
        const s = await snapshot(handle);
        return s.runningActivity === 'emitGraph' &&
          s.upload &&
          s.upload.done >= PART_BYTES &&
          s.upload.done < s.upload.total
          ? s.upload
          : undefined;
      },
      180_000,
      150,
    );
    const stoppedAt = Date.now();
    await stack.stop('minio');
    s3.rates.up = undefined;
    await sleep(Math.max(0, 20_000 - (Date.now() - stoppedAt)));
    await stack.up();
    const downFor = Date.now() - stoppedAt;
    const result = await resultOf(handle, 300_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nworker:\n${steady?.output()}`);
    });

    await expectPublishedOnce(result);
    const tries = await attempts(handle);
    const upload = result.emission.upload;
    // 20 s down outlasts the storage retry (~15 s at most): the uploading attempt failed, and the
    // attempt that completed is a later one, which resumed the same multipart upload from the
    // checkpoint in the heartbeat instead of starting over.
    expect(tries.emitGraph?.length).toBe(1);
    expect(tries.emitGraph?.[0]).toBeGreaterThanOrEqual(2);
    expect(upload.method).toBe('multipart');
    expect(upload.bytesSent + upload.bytesReused).toBe(result.onnx.bytes);
    expect(upload.bytesReused).toBeGreaterThan(0);
    // At least the parts the server had recorded in the heartbeat when MinIO stopped were reused.
    expect(upload.bytesReused).toBeGreaterThanOrEqual(atStop.done);
    expect(upload.bytesSent).toBeLessThan(result.onnx.bytes);
    findings.minioStoppedDuringUpload = {
      downForMs: downFor,
      heartbeatAtStop: atStop,
      resumedAttempt: upload,
      emitAttempts: tries.emitGraph,
    };
  });

  it('MLflow stopped after applying model-versions/create but before its answer reached the worker, then started again: exactly one version, the one the server created', async () => {
    if (!steady) steady = await startWorkerProcess('steady', workerEnv());
    const createPath = '/api/2.0/mlflow/model-versions/create';
    const lost = mlflowGate.loseAnswerOf(createPath);
    const request = exportRequest(smallUri, 'fault-mlflow');
    const modelName = request.modelName as string;
    const { handle } = await startExport(client, request);
    const answer = await within(lost, 240_000, 'model-versions/create answered by MLflow');
    // The server applied the create: its answer names a version, and MLflow lists it.
    expect(answer.status).toBe(200);
    const created = (JSON.parse(answer.body) as { model_version?: ModelVersion }).model_version;
    expect(created?.name).toBe(modelName);
    const appliedBeforeStop = await versionsOf(modelName);
    expect(appliedBeforeStop.map((v) => v.version)).toEqual([created?.version]);
    const progress = await handle.query<ExportProgress>(PROGRESS_QUERY);
    expect(progress.stage).toBe('register');
    const seenAtLoss = mlflowGate.seen.length;

    // MLflow goes down while the worker still waits for that answer; then the worker's connection is
    // cut without a reply, and for ~10 s every call it makes is refused.
    const stoppedAt = Date.now();
    await stack.stop('mlflow');
    mlflowGate.dropLost();
    await sleep(10_000);
    await stack.up();
    const downFor = Date.now() - stoppedAt;
    const result = await resultOf(handle, 300_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nworker:\n${steady?.output()}`);
    });

    await expectPublishedOnce(result);
    // The version that survives is the one whose answer was lost, not a second one.
    expect(result.registry.version).toBe(created?.version);
    // The worker learnt of the version only by looking it up in MLflow after the lost answer.
    const afterLoss = mlflowGate.seen.slice(seenAtLoss);
    expect(afterLoss).toContain('GET /api/2.0/mlflow/model-versions/search');
    findings.mlflowLostCreateAnswer = {
      lostAnswer: { status: answer.status, version: created?.version },
      downForMs: downFor,
      requestsAfterLoss: afterLoss,
      registerAttempts: (await attempts(handle)).registerModel,
      created: result.registry.created,
    };
  });

  it('the Temporal dev server restarted (same SQLite file) while an export runs: it completes', async () => {
    if (!steady) steady = await startWorkerProcess('steady', workerEnv());
    const { handle } = await startExport(
      client,
      exportRequest(smallUri, 'fault-temporal', { gpu: false, batchSizes: [1], maxRuns: 100_000, timeBudgetMs: 4_000 }),
    );
    // Parity or the benchmark: either is mid-export. The benchmark alone can end between two polls
    // (it stops once its p50 is precise enough, in well under a second for the small model).
    await waitFor(
      'the parity or the benchmark stage',
      async () =>
        ['parity', 'benchmark'].includes((await handle.query<ExportProgress>(PROGRESS_QUERY)).stage) ? true : undefined,
      120_000,
      100,
    );
    const stoppedAt = Date.now();
    await stack.stop('temporal');
    await stack.up();
    const downFor = Date.now() - stoppedAt;
    const result = await resultOf(handle, 300_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nworker:\n${steady?.output()}`);
    });

    await expectPublishedOnce(result);
    findings.temporalRestarted = { downForMs: downFor, attempts: await attempts(handle) };
  });

  it('the same export started twice at once: one run, both get the same result', async () => {
    if (!steady) steady = await startWorkerProcess('steady', workerEnv());
    const other = await connectClient(config);
    try {
      const request = exportRequest(smallUri, 'fault-twice');
      const [a, b] = await Promise.all([startExport(client, request), startExport(other, request)]);
      expect(a.workflowId).toBe(b.workflowId);
      const [ra, rb] = await Promise.all([resultOf(a.handle, 180_000), resultOf(b.handle, 180_000)]);
      expect(rb).toEqual(ra);
      const runs: string[] = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId = '${a.workflowId}'` })) runs.push(wf.runId);
      expect(runs).toHaveLength(1);
      expect((await a.handle.describe()).runId).toBe(runs[0]);
      await expectPublishedOnce(ra);
      findings.startedTwiceAtOnce = { outcomes: [a.outcome, b.outcome], runs: runs.length };
    } finally {
      await other.connection.close();
    }
  });

  it('a worker SIGKILLed in the middle of the accuracy-aware int8 search: the retry does not redo the rounds it had done', async () => {
    // Only the worker this case kills may take the quantize stage.
    await steady?.kill('SIGTERM');
    steady = undefined;
    const f = await startWorkerProcess('search-f', workerEnv());
    // A gate no int8 graph meets: the search runs to its bound (6 of convnext_tiny's 64 nodes: 4
    // rounds, 3 rankings, seconds each), and the variant fails alone at parity.
    const request: ExportRequest = {
      ...exportRequest(tinyUri, 'fault-int8-search'),
      variants: ['fp32', 'int8'],
      int8: { parity: { mae: 1e-7, maxAbs: 1e-7 }, maxFloatFraction: 0.1 },
    };
    const { handle } = await startExport(client, request);
    const killedAfter = await waitFor(
      'two search rounds in the quantize heartbeat',
      async () => {
        const p = await pending(handle, 'quantizeGraph');
        const rounds = (p?.details as { search?: { rounds: unknown[] } } | undefined)?.search?.rounds.length ?? 0;
        return p?.started && rounds >= 2 ? rounds : undefined;
      },
      600_000,
      100,
    );
    await f.kill('SIGKILL');
    const g = await startWorkerProcess('search-g', workerEnv());
    const result = await resultOf(handle, 600_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nworker g:\n${g.output()}`);
    });

    await expectPublishedOnce(result);
    expect((await attempts(handle)).quantizeGraph).toEqual([2]);
    const int8 = result.variants.int8;
    expect(int8?.status).toBe('failed');
    const reason = int8?.status === 'failed' ? int8.reason : '';
    // The rounds the killed attempt had heartbeated (at least those) were taken from its memo.
    const replayed = Number(/(\d+) of them done by an earlier attempt of the quantize stage/.exec(reason)?.[1]);
    expect(reason).toContain('accuracy-aware int8 stopped at the bound');
    expect(replayed).toBeGreaterThanOrEqual(killedAfter);
    findings.workerKilledDuringInt8Search = { roundsHeartbeatedWhenKilled: killedAfter, roundsReplayed: replayed };
    await g.kill('SIGTERM');
  });
});
