/**
 * Integration: the benchmark stage on the real Temporal server (address from loadConfig(), so it
 * follows whatever stack the runner started), with real Workers from worker/run-worker.ts bundling
 * test/workflows/bench-stage.ts. Uses Temporal only (the model is a local file). Queue names are
 * unique per run so no other worker on the server can take these tasks.
 *
 * - skip path: no worker polls the GPU queue; the GPU benchmark's scheduleToStartTimeout expires, the
 *   result is `skipped` with a reason, and the workflow goes on.
 * - routing path: a host started with the test-only flag `gpuQueueUsesCpuForTests` polls the GPU queue
 *   and runs the CUDA request there, on the CPU provider.
 * Benchmarks are tiny (probe model, few runs): the statistics are unit-tested, not timed here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProbeModel } from '../../bench/probe-model';
import { loadConfig } from '../../config/environment';
import type { PipelineConfig } from '../../config/environment';
import type { CudaProbeResult } from '../../worker/cuda-probe';
import { createWorkerHost } from '../../worker/run-worker';
import type { TaskQueueNames, WorkerHost } from '../../worker/run-worker';
import type { BenchmarkStageInput } from '../../workflows/benchmark-stage';
import type { benchStageThenContinue } from '../workflows/bench-stage';

const config: PipelineConfig = loadConfig();
const runId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const workflowsPath = join(__dirname, '..', 'workflows', 'bench-stage.ts');
/** The GPU benchmark's wait for a worker in the skip path: short, the point is that it expires. */
const SKIP_SCHEDULE_TO_START = '3 seconds';
/** A host without CUDA, stated rather than probed, so the skip path holds on a GPU runner too. */
const noGpuProbe = async (): Promise<CudaProbeResult> => ({
  available: false,
  reason: 'test: this host has no GPU',
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
    connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5 seconds' });
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
  it('skip path: with no GPU worker the GPU result is skipped with a reason and the workflow goes on', async () => {
    const q = queues('skip');
    const host = await createWorkerHost(config, { taskQueues: q, workflowsPath, probeCuda: noGpuProbe });
    const workflowId = `bench-skip-${runId}`;
    const result = await withHost(host, () => {
      expect(host.gpuQueue.serve).toBe(false);
      expect(host.workers.map((w) => w.options.taskQueue)).toEqual([q.export, q.bench]);
      return client.workflow.execute<typeof benchStageThenContinue>('benchStageThenContinue', {
        taskQueue: q.export,
        workflowId,
        args: [stageInput(q, { gpuScheduleToStartTimeout: SKIP_SCHEDULE_TO_START })],
        workflowExecutionTimeout: '3 minutes',
      });
    });
    expect(result.continuedAfterBenchmark).toBe(true);
    expect(result.stage.gpu).toEqual({
      status: 'skipped',
      reason: expect.stringContaining(
        `no worker on task queue '${q.gpu}' started the CUDA benchmark within ${SKIP_SCHEDULE_TO_START}`,
      ),
    });
    const cpu = result.stage.cpu;
    expect(cpu.ranOn?.taskQueue).toBe(q.bench);
    expect(cpu.settings.executionProvider).toBe('cpu');
    expect(cpu.batches.map((b) => b.batchSize)).toEqual([1, 4]);
    expect(await scheduledQueues(workflowId)).toEqual([q.bench, q.gpu]);
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
    expect(await scheduledQueues(workflowId)).toEqual([q.bench, q.gpu]);
  });
});
