/**
 * Starts the worker processes this host serves, against the configured Temporal address:
 * - `onnx-export`: workflows and the general activities;
 * - `onnx-export-bench`: CPU benchmarks, one activity at a time so two benchmarks never share cores;
 * - `onnx-export-gpu`: GPU benchmarks, only when the CUDA probe passed at start-up, or when the
 *   test-only flag `gpuQueueUsesCpuForTests` makes it run CUDA requests on the CPU provider.
 * Graceful shutdown (SIGINT/SIGTERM) is the SDK's: polling stops, running activities finish or
 * are cancelled with a chance to heartbeat their progress.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { TASK_QUEUES } from '../common/constants';
import type { PipelineConfig } from '../config/environment';
import { artifactResolver, createActivities } from '../activities';
import { createBenchmarkLatencyActivity } from '../activities/benchmark-latency';
import type { OpenSession } from '../bench/latency-benchmark';
import type { CudaProbeResult } from './cuda-probe';
import { probeCuda } from './cuda-probe';
import { stageMetricsInterceptors } from './stage-metrics';
import { connectWorkerConnection } from '../temporal/connect';

/** One benchmark per worker at a time: timings must not share cores (CPU) or a device (GPU). */
const BENCHMARK_ACTIVITY_SLOTS = 1;

/**
 * Heartbeats reach the server at least this often. The SDK's default throttle is 0.8 × the heartbeat
 * timeout (48 s for emit's 1 minute), so an upload shorter than that never recorded its checkpoint
 * on the server and a killed worker's retry re-sent every part (found by the fault-injection suite).
 */
export const HEARTBEAT_FLUSH_INTERVAL = '2 seconds';

export type TaskQueueNames = { readonly [K in keyof typeof TASK_QUEUES]: string };

export interface WorkerHostOptions {
  /**
   * TEST ONLY: serve the GPU queue without a GPU, running its `cuda` benchmarks on the CPU provider
   * (reports carry a note saying so). Never set this on a production worker.
   */
  gpuQueueUsesCpuForTests?: boolean;
  /** The capability check; replaceable in tests. */
  probeCuda?: () => Promise<CudaProbeResult>;
  /** How the GPU queue's benchmarks open sessions; tests stand in for a GPU whose benchmark fails. */
  gpuOpenSession?: OpenSession;
  /** Queue names; tests use unique ones so they never meet another worker. */
  taskQueues?: Partial<TaskQueueNames>;
  /** Workflow bundle entry; tests point it at test/workflows/. */
  workflowsPath?: string;
}

export interface GpuQueueDecision {
  readonly serve: boolean;
  readonly executionProvider: 'cuda' | 'cpu';
  readonly reason: string;
}

/** Whether this host polls the GPU queue, and on which provider its benchmarks run. */
export function decideGpuQueue(probe: CudaProbeResult | undefined, gpuQueueUsesCpuForTests: boolean): GpuQueueDecision {
  if (gpuQueueUsesCpuForTests) {
    return {
      serve: true,
      executionProvider: 'cpu',
      reason: 'test-only flag gpuQueueUsesCpuForTests: GPU queue served on the CPU provider',
    };
  }
  if (probe?.available) return { serve: true, executionProvider: 'cuda', reason: probe.reason };
  return { serve: false, executionProvider: 'cuda', reason: probe?.reason ?? 'CUDA probe not run' };
}

export interface WorkerHost {
  workers: Worker[];
  gpuQueue: GpuQueueDecision;
  cudaProbe: CudaProbeResult | undefined;
  taskQueues: TaskQueueNames;
  /** Resolves when every worker has shut down. */
  run(): Promise<void>;
  shutdown(): void;
  connection: NativeConnection;
}

export async function createWorkerHost(config: PipelineConfig, options: WorkerHostOptions = {}): Promise<WorkerHost> {
  const queues: TaskQueueNames = { ...TASK_QUEUES, ...options.taskQueues };
  const testFlag = options.gpuQueueUsesCpuForTests === true;
  const cudaProbe = testFlag ? undefined : await (options.probeCuda ?? probeCuda)();
  const gpuQueue = decideGpuQueue(cudaProbe, testFlag);

  const connection = await connectWorkerConnection(config);
  const common = {
    connection,
    namespace: config.temporal.namespace,
    maxHeartbeatThrottleInterval: HEARTBEAT_FLUSH_INTERVAL,
    // Times every activity and counts uploaded bytes (worker/stage-metrics.ts); a no-op without an exporter.
    interceptors: { activity: [stageMetricsInterceptors] },
  };
  try {
    const general = await Worker.create({
      ...common,
      taskQueue: queues.export,
      workflowsPath: options.workflowsPath ?? workflowsEntry(),
      activities: createActivities(config),
    });
    const bench = await Worker.create({
      ...common,
      taskQueue: queues.bench,
      activities: createBenchmarkLatencyActivity({ resolveModelPath: artifactResolver(config) }),
      maxConcurrentActivityTaskExecutions: BENCHMARK_ACTIVITY_SLOTS,
    });
    const workers = [general, bench];
    if (gpuQueue.serve) {
      workers.push(
        await Worker.create({
          ...common,
          taskQueue: queues.gpu,
          activities: createBenchmarkLatencyActivity({
            gpuQueueUsesCpuForTests: testFlag,
            resolveModelPath: artifactResolver(config),
            ...(options.gpuOpenSession ? { openSession: options.gpuOpenSession } : {}),
          }),
          maxConcurrentActivityTaskExecutions: BENCHMARK_ACTIVITY_SLOTS,
        }),
      );
    }
    return {
      workers,
      gpuQueue,
      cudaProbe,
      taskQueues: queues,
      connection,
      async run() {
        try {
          await Promise.all(workers.map((w) => w.run()));
        } finally {
          await connection.close();
        }
      },
      shutdown() {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      },
    };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/**
 * The workflows bundle entry: the .ts source under vitest (whose require.resolve cannot find a
 * .ts folder index), the compiled .js under dist/.
 */
export function workflowsEntry(): string {
  const ts = join(__dirname, '..', 'workflows', 'index.ts');
  return existsSync(ts) ? ts : join(__dirname, '..', 'workflows', 'index.js');
}
