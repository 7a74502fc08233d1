/**
 * Integration: the benchmark stage on the real Temporal server (address from loadConfig(), so it
 * follows whatever stack the runner started), with real Workers from worker/run-worker.ts bundling
 * test/workflows/bench-stage.ts. Uses Temporal only (the model is a local file). Queue names are
 * unique per run so no other worker on the server can take these tasks.
 *
 * - no GPU worker: nothing polls the GPU queue (DescribeTaskQueue says so), the GPU benchmark is
 *   `skipped` at once with that reason and never scheduled, though its wait would be 10 minutes.
 * - routing path: a host started with the test-only flag `gpuQueueUsesCpuForTests` polls the GPU queue
 *   and runs the CUDA request there, on the CPU provider.
 * - failing GPU: a host whose (injected) CUDA probe passes takes the benchmark, and its sessions fail
 *   as onnxruntime does without the CUDA library: after its retries the GPU result is `failed` with
 *   the error, and the workflow goes on.
 * Benchmarks are tiny (probe model, few runs): the statistics are unit-tested, not timed here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProbeModel } from '../../bench/probe-model';
import { loadConfig } from '../../config/environment';
import type { PipelineConfig } from '../../config/environment';
import type { CudaProbeResult } from '../../worker/cuda-probe';
import { createWorkerHost } from '../../worker/run-worker';
import type { TaskQueueNames, WorkerHost } from '../../worker/run-worker';
import type { BenchmarkStageInput } from '../../workflows/benchmark-stage';
import type { benchStageThenContinue } from '../workflows/bench-stage';
import { cpuOnlyHost } from '../unit/bench-session-openers';
import { connectTemporal } from '../../temporal/connect';

const config: PipelineConfig = loadConfig();
const runId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const workflowsPath = join(__dirname, '..', 'workflows', 'bench-stage.ts');
/** A host without CUDA, stated rather than probed, so the skip path holds on a GPU runner too. */
const noGpuProbe = async (): Promise<CudaProbeResult> => ({
  available: false,
  reason: 'test: this host has no GPU',
  onnxruntimeVersion: 'n/a',
  durationMs: 0,
});
/** A host whose CUDA check passed, stated rather than probed. */
const gpuProbe = async (): Promise<CudaProbeResult> => ({
  available: true,
  reason: 'test: this host has a GPU',
  onnxruntimeVersion: 'n/a',
  durationMs: 0,
});

let dir: string;
let modelPath: string;
let client: Client;

function queues(name: string): TaskQueueNames {
  return {
    export: `bench-it-${name}-${runId}`,
    bench: `bench-it-${name}-cpu-${runId}`,
    gpu: `bench-it-${name}-gpu-${runId}`,
  };
}

function stageInput(q: TaskQueueNames, extra: Partial<BenchmarkStageInput> = {}): BenchmarkStageInput {
  return {
    model: { uri: modelPath, label: 'probe-64x2' },
    batchSizes: [1, 4],
    maxRuns: 8,
    minRuns: 3,
    timeBudgetMs: 100,
    threads: 1,
    taskQueues: { bench: q.bench, gpu: q.gpu },
    ...extra,
  };
}

async function withHost<T>(host: WorkerHost, body: () => Promise<T>): Promise<T> {
  const running = host.run();
  running.catch(() => undefined);
  try {
    return await body();
  } finally {
    host.shutdown();
    await running;
  }
}

async function scheduledQueues(workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes?.taskQueue?.name
      ? [e.activityTaskScheduledEventAttributes.taskQueue.name]
      : [],
  );
}

beforeAll(async () => {
  let connection: Connection;
  try {
    connection = await connectTemporal(config);
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw new Error(
      `Temporal at ${config.temporal.address} is not reachable (${err instanceof Error ? err.message : String(err)}). Start the stack: bash scripts/stack.sh up`,
    );
  }
  client = new Client({ connection, namespace: config.temporal.namespace });
  dir = mkdtempSync(join(tmpdir(), 'bench-it-'));
  modelPath = join(dir, 'probe.onnx');
  writeFileSync(modelPath, (await makeProbeModel({ width: 64, layers: 2 })).bytes);
});

afterAll(async () => {
  await client?.connection.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('benchmark stage on the real Temporal server', () => {
  it('no GPU worker: the GPU benchmark is skipped at once, naming the empty queue, and never scheduled', async () => {
    const q = queues('skip');
    const host = await createWorkerHost(config, { taskQueues: q, workflowsPath, probeCuda: noGpuProbe });
    const workflowId = `bench-skip-${runId}`;
    const result = await withHost(host, () => {
      expect(host.gpuQueue.serve).toBe(false);
      expect(host.workers.map((w) => w.options.taskQueue)).toEqual([q.export, q.bench]);
      return client.workflow.execute<typeof benchStageThenContinue>('benchStageThenContinue', {
        taskQueue: q.export,
        workflowId,
        // The default wait: the stage must not sit it out when no GPU worker exists.
        args: [stageInput(q, { gpuScheduleToStartTimeout: '10 minutes' })],
        workflowExecutionTimeout: '3 minutes',
      });
    });
    expect(result.continuedAfterBenchmark).toBe(true);
    expect(result.stage.gpu).toEqual({
      status: 'skipped',
      reason: expect.stringMatching(
        new RegExp(`^no worker polled task queue '${q.gpu}' in the 120 s before .*DescribeTaskQueue`),
      ),
    });
    const cpu = result.stage.cpu;
    expect(cpu.ranOn?.taskQueue).toBe(q.bench);
    expect(cpu.settings.executionProvider).toBe('cpu');
    expect(cpu.batches.map((b) => b.batchSize)).toEqual([1, 4]);
    // CPU benchmark, then the poller check on the workflow's own queue; nothing on the GPU queue.
    expect(await scheduledQueues(workflowId)).toEqual([q.bench, q.export]);
  });

  it('failing GPU: a GPU worker takes the benchmark and fails; the GPU result is failed with the error and the workflow goes on', async () => {
    const q = queues('fail');
    const host = await createWorkerHost(config, {
      taskQueues: q,
      workflowsPath,
      probeCuda: gpuProbe,
      gpuOpenSession: cpuOnlyHost,
    });
    const workflowId = `bench-fail-${runId}`;
    const result = await withHost(host, () => {
      expect(host.gpuQueue).toMatchObject({ serve: true, executionProvider: 'cuda' });
      return client.workflow.execute<typeof benchStageThenContinue>('benchStageThenContinue', {
        taskQueue: q.export,
        workflowId,
        args: [stageInput(q)],
        workflowExecutionTimeout: '3 minutes',
      });
    });
    expect(result.continuedAfterBenchmark).toBe(true);
    expect(result.stage.gpu).toEqual({
      status: 'failed',
      reason: expect.stringMatching(
        new RegExp(
          `^the CUDA benchmark on task queue '${q.gpu}' failed after 3 attempts: .*Failed to load shared library`,
        ),
      ),
    });
    expect(result.stage.cpu.ranOn?.taskQueue).toBe(q.bench);
    expect(await scheduledQueues(workflowId)).toEqual([q.bench, q.export, q.gpu]);
  });

  it('routing path: a host started with gpuQueueUsesCpuForTests runs the CUDA benchmark from the GPU queue', async () => {
    const q = queues('route');
    const host = await createWorkerHost(config, { taskQueues: q, workflowsPath, gpuQueueUsesCpuForTests: true });
    const workflowId = `bench-route-${runId}`;
    const result = await withHost(host, () => {
      expect(host.gpuQueue).toMatchObject({ serve: true, executionProvider: 'cpu' });
      expect(host.workers.map((w) => w.options.taskQueue)).toEqual([q.export, q.bench, q.gpu]);
      // maxConcurrentActivityTaskExecutions: 1 becomes a fixed-size slot supplier of one slot
      expect(host.workers.slice(1).map((w) => w.options.tuner.activityTaskSlotSupplier)).toEqual([
        { type: 'fixed-size', numSlots: 1 },
        { type: 'fixed-size', numSlots: 1 },
      ]);
      return client.workflow.execute<typeof benchStageThenContinue>('benchStageThenContinue', {
        taskQueue: q.export,
        workflowId,
        args: [stageInput(q)],
        workflowExecutionTimeout: '3 minutes',
      });
    });
    expect(result.continuedAfterBenchmark).toBe(true);
    expect(result.stage.gpu.status).toBe('completed');
    if (result.stage.gpu.status !== 'completed') throw new Error('unreachable');
    const gpu = result.stage.gpu.report;
    expect(gpu.ranOn?.taskQueue).toBe(q.gpu);
    expect(gpu.settings).toMatchObject({
      requestedExecutionProvider: 'cuda',
      executionProvider: 'cpu',
      testOnlyNote: expect.stringMatching(/gpuQueueUsesCpuForTests/),
    });
    expect(result.stage.cpu.ranOn?.taskQueue).toBe(q.bench);
    expect(gpu.model.sha256).toBe(result.stage.cpu.model.sha256);
    expect(await scheduledQueues(workflowId)).toEqual([q.bench, q.export, q.gpu]);
  });
});
