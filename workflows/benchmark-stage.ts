/**
 * The benchmark stage, as a helper for workflows (deterministic: only activity calls through proxies).
 * The CPU benchmark runs on the bench queue; then the GPU benchmark on the GPU queue. The two run one
 * after the other so that a host serving both queues never times one benchmark while the other loads
 * its cores.
 *
 * The GPU benchmark is informational (the inference service runs the CPU graph), so it never fails an
 * export (docs/architecture.md, "GPU benchmark"):
 * - no worker polled the GPU queue recently (DescribeTaskQueue): `skipped` at once, with the reason;
 * - one did, but none started the benchmark within the scheduleToStartTimeout: `skipped`;
 * - a GPU worker took it and it failed after its retries: `failed`, with the error; the export goes on.
 *
 * It must not import Node built-ins or I/O packages, nor decide what an export does with the reports.
 * Its activity options are workflows/stage-options.ts's.
 */
import { TimeoutType } from '@temporalio/common';
import type { Duration } from '@temporalio/common';
import { ActivityFailure, TimeoutFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { BenchmarkActivityInput, BenchmarkModelRef } from '../activities/benchmark-latency';
import type { Activities } from '../activities';
import type { LatencyReport } from '../bench/report-types';
import { BENCHMARK_STAGE, TASK_QUEUES } from '../common/constants';
import type { ExportRequest } from '../common/export-request';
import { GPU_SKIP_REASONS } from '../common/metrics';
import { countGpuSkip } from './metrics';
import { BENCHMARK_OPTIONS, GPU_POLLER_CHECK_OPTIONS } from './stage-options';

export interface BenchmarkStageInput {
  model: BenchmarkModelRef;
  /** The reference cases the feeds may need (int64/bool values, default sizes), and sizes of symbolic dims. */
  reference?: BenchmarkActivityInput['reference'];
  dims?: BenchmarkActivityInput['dims'];
  batchSizes?: number[];
  threads?: number;
  maxRuns?: number;
  minRuns?: number;
  timeBudgetMs?: number;
  /** Skip the GPU benchmark altogether (recorded as skipped, reason 'not requested'). */
  gpu?: boolean;
  /** Default BENCHMARK_STAGE.gpuScheduleToStartTimeout (10 minutes). */
  gpuScheduleToStartTimeout?: Duration;
  /** Queue names; default TASK_QUEUES (tests pass unique ones). */
  taskQueues?: { bench?: string; gpu?: string };
}

/** How an export times its graphs: the stage's input but the model (every variant is timed alike). */
export type BenchmarkSettings = Omit<BenchmarkStageInput, 'model'>;

/** The request's benchmark settings as the stage takes them; a setting it adds passes through. */
export function benchmarkSettingsOf(requested: ExportRequest['benchmark']): BenchmarkSettings {
  const { gpuScheduleToStartTimeout, ...settings } = requested ?? {};
  return {
    ...settings,
    // The request's schema checked it is a duration the SDK reads ('30 seconds', '10m').
    ...(gpuScheduleToStartTimeout ? { gpuScheduleToStartTimeout: gpuScheduleToStartTimeout as Duration } : {}),
  };
}

export type GpuBenchmarkOutcome =
  | { status: 'completed'; report: LatencyReport }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string };

/** Exports that started before the poller check and the `failed` outcome replay without them. */
export const GPU_WHERE_POLLED_PATCH = 'gpu-benchmark-where-polled';

export interface BenchmarkStageResult {
  cpu: LatencyReport;
  gpu: GpuBenchmarkOutcome;
}

/** True when `err` is an activity that no worker started within its scheduleToStartTimeout. */
export function isScheduleToStartTimeout(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
  );
}

export async function runBenchmarkStage(input: BenchmarkStageInput): Promise<BenchmarkStageResult> {
  const benchQueue = input.taskQueues?.bench ?? TASK_QUEUES.bench;
  const gpuQueue = input.taskQueues?.gpu ?? TASK_QUEUES.gpu;
  const request = (executionProvider: 'cpu' | 'cuda'): BenchmarkActivityInput => ({
    model: input.model,
    executionProvider,
    ...(input.reference ? { reference: input.reference } : {}),
    ...(input.dims ? { dims: input.dims } : {}),
    ...(input.batchSizes ? { batchSizes: input.batchSizes } : {}),
    ...(input.threads !== undefined ? { threads: input.threads } : {}),
    ...(input.maxRuns !== undefined ? { maxRuns: input.maxRuns } : {}),
    ...(input.minRuns !== undefined ? { minRuns: input.minRuns } : {}),
    ...(input.timeBudgetMs !== undefined ? { timeBudgetMs: input.timeBudgetMs } : {}),
  });
  const label = input.model.label ?? input.model.uri;

  const { benchmarkLatency: cpuBenchmark } = proxyActivities<Activities>({
    ...BENCHMARK_OPTIONS,
    taskQueue: benchQueue,
    summary: `CPU latency benchmark of ${label}`,
  });
  const cpu = await cpuBenchmark(request('cpu'));

  if (input.gpu === false) {
    countGpuSkip(GPU_SKIP_REASONS.notRequested);
    return { cpu, gpu: { status: 'skipped', reason: 'GPU benchmark not requested' } };
  }
  const scheduleToStartTimeout = input.gpuScheduleToStartTimeout ?? BENCHMARK_STAGE.gpuScheduleToStartTimeout;
  const wherePolled = patched(GPU_WHERE_POLLED_PATCH);
  if (wherePolled) {
    const absent = await noRecentGpuPoller(gpuQueue);
    if (absent) {
      countGpuSkip(GPU_SKIP_REASONS.noGpuWorker);
      return { cpu, gpu: { status: 'skipped', reason: absent } };
    }
  }
  const { benchmarkLatency: gpuBenchmark } = proxyActivities<Activities>({
    ...BENCHMARK_OPTIONS,
    taskQueue: gpuQueue,
    scheduleToStartTimeout,
    summary: `CUDA latency benchmark of ${label}`,
  });
  try {
    return { cpu, gpu: { status: 'completed', report: await gpuBenchmark(request('cuda')) } };
  } catch (err) {
    if (isScheduleToStartTimeout(err)) {
      countGpuSkip(GPU_SKIP_REASONS.scheduleToStart);
      return {
        cpu,
        gpu: {
          status: 'skipped',
          reason: `no worker on task queue '${gpuQueue}' started the CUDA benchmark within ${String(scheduleToStartTimeout)} (no host with a working CUDA probe is polling it)`,
        },
      };
    }
    if (!wherePolled || !(err instanceof ActivityFailure)) throw err;
    const cause = err.cause instanceof Error ? err.cause.message : err.message;
    return {
      cpu,
      gpu: {
        status: 'failed',
        reason: `the CUDA benchmark on task queue '${gpuQueue}' failed after ${BENCHMARK_STAGE.maximumAttempts} attempts: ${cause}`,
      },
    };
  }
}

/**
 * Why no GPU benchmark can run, when no worker polled the GPU queue recently; undefined when one did,
 * or when the check itself could not be made (then the scheduleToStartTimeout decides, as before).
 */
async function noRecentGpuPoller(gpuQueue: string): Promise<string | undefined> {
  const { gpuQueuePollers } = proxyActivities<Activities>({
    ...GPU_POLLER_CHECK_OPTIONS,
    summary: `Is a GPU worker polling '${gpuQueue}'? (DescribeTaskQueue)`,
  });
  try {
    const polled = await gpuQueuePollers({
      taskQueue: gpuQueue,
      recentWithinMs: BENCHMARK_STAGE.gpuPollerRecentWithinMs,
    });
    if (polled.recent.length > 0) return undefined;
    return `no worker polled task queue '${gpuQueue}' in the ${polled.recentWithinMs / 1000} s before ${polled.checkedAt} (DescribeTaskQueue): no host with a working CUDA probe serves it, so the CUDA benchmark was not scheduled`;
  } catch (err) {
    if (err instanceof ActivityFailure) return undefined;
    throw err;
  }
}
