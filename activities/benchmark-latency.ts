/**
 * The benchmark stage's activity: resolves the model (and, when the feeds need it, the reference
 * cases) to a local file, runs bench/ with a
 * heartbeat per progress step (cancellation arrives through it); failures.ts maps BenchmarkError
 * kinds to retryable or non-retryable failures. It must stay thin: no statistics, no timing, no
 * figures here.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { BenchmarkError } from '../bench/bench-error';
import { benchmarkModel, type OpenSession } from '../bench/latency-benchmark';
import type { ExecutionProviderName, LatencyReport } from '../bench/report-types';
import { toActivityFailure } from './failures';

/** Heartbeats carry progress at most this often; the SDK throttles further to its heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 1_000;

export interface BenchmarkModelRef {
  /** A local path, a file:// URL, or whatever `resolveModelPath` understands (e.g. s3://). */
  uri: string;
  /** When given, the benchmarked file must have this sha256. */
  sha256?: string;
  label?: string;
}

export interface BenchmarkActivityInput {
  model: BenchmarkModelRef;
  executionProvider: ExecutionProviderName;
  /**
   * The reference cases (an export passes its bundle's reference.safetensors), resolved like the
   * model and fetched only when the graph's feeds need it: int64/bool inputs, or symbolic dimensions
   * other than the batch that `dims` does not size.
   */
  reference?: { uri: string; sha256?: string };
  /** Sizes of symbolic dimensions other than the batch (`benchmark.dims`), e.g. `{receivers: 7}`. */
  dims?: Record<string, number>;
  batchSizes?: number[];
  threads?: number;
  maxRuns?: number;
  minRuns?: number;
  timeBudgetMs?: number;
}

export interface BenchmarkActivityDeps {
  /**
   * TEST ONLY: this worker serves the GPU queue without a GPU and runs `cuda` requests on the CPU
   * provider; the report says so in `settings.testOnlyNote`.
   */
  gpuQueueUsesCpuForTests?: boolean;
  /** Turns a non-local model (or reference) URI into a local file path (e.g. the object store's cache). */
  resolveModelPath?: (ref: { uri: string; sha256?: string }) => Promise<string>;
  /** How sessions are opened; default onnxruntime's (tests stand in for a host without CUDA). */
  openSession?: OpenSession;
}

async function localPath(
  ref: { uri: string; sha256?: string },
  deps: BenchmarkActivityDeps,
  what = 'model',
): Promise<string> {
  if (ref.uri.startsWith('file://')) return fileURLToPath(ref.uri);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(ref.uri)) return ref.uri;
  if (deps.resolveModelPath) return deps.resolveModelPath(ref);
  throw new BenchmarkError(`${what} '${ref.uri}': this worker has no resolver for its scheme`, {
    kind: 'model-unresolvable',
    model: ref.uri,
  });
}

export function createBenchmarkLatencyActivity(deps: BenchmarkActivityDeps = {}) {
  return {
    /** Benchmarks one model on one execution provider; the queue it runs on decides the hardware. */
    async benchmarkLatency(input: BenchmarkActivityInput): Promise<LatencyReport> {
      const ctx = Context.current();
      const reference = input.reference;
      const cpuForCuda = input.executionProvider === 'cuda' && deps.gpuQueueUsesCpuForTests === true;
      let lastBeat = 0;
      try {
        const path = await localPath(input.model, deps);
        const report = await benchmarkModel(
          { path, ...(input.model.label ? { label: input.model.label } : {}) },
          {
            executionProvider: cpuForCuda ? 'cpu' : input.executionProvider,
            requestedExecutionProvider: input.executionProvider,
            ...(cpuForCuda
              ? { testOnlyNote: 'gpuQueueUsesCpuForTests: the GPU queue ran this on the CPU provider' }
              : {}),
            ...(input.batchSizes ? { batchSizes: input.batchSizes } : {}),
            ...(input.threads !== undefined ? { threads: input.threads } : {}),
            ...(input.maxRuns !== undefined ? { maxRuns: input.maxRuns } : {}),
            ...(input.minRuns !== undefined ? { minRuns: input.minRuns } : {}),
            ...(input.timeBudgetMs !== undefined ? { timeBudgetMs: input.timeBudgetMs } : {}),
            ...(deps.openSession ? { openSession: deps.openSession } : {}),
            inputs: {
              ...(input.dims ? { dims: input.dims } : {}),
              ...(reference ? { reference: () => localPath(reference, deps, 'reference') } : {}),
            },
            signal: ctx.cancellationSignal,
            onProgress: (progress) => {
              const now = Date.now();
              if (now - lastBeat >= HEARTBEAT_EVERY_MS || progress.phase === 'done') {
                lastBeat = now;
                ctx.heartbeat(progress);
              }
            },
          },
        );
        if (input.model.sha256 && input.model.sha256 !== report.model.sha256) {
          throw new BenchmarkError(
            `model '${input.model.uri}': expected sha256 ${input.model.sha256}, benchmarked ${report.model.sha256}`,
            { kind: 'model-mismatch', model: input.model.uri },
          );
        }
        return { ...report, ranOn: { taskQueue: ctx.info.taskQueue, workerIdentity: `${process.pid}@${hostname()}` } };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
