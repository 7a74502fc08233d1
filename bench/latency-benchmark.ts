/**
 * Measures ONNX models with onnxruntime-node: one model alone (`benchmarkModel`) or two interleaved in
 * one process (`compareModels`). Per batch size: a first run, a warm-up that ends when latency is
 * stable, then measured runs up to a count or a time budget, on rotating inputs built from the
 * graph's signature (signature-feeds.ts: random float32 values, int64/bool values from the reference).
 *
 * A model alone runs with onnxruntime's default intra-op spinning (on), as its consumers run it.
 * Bias controls of the comparison: both sessions get the same thread count with intra-op spinning off
 * (a spinning pool would keep burning the cores the other session's next run needs), and the order
 * alternates per pair (A B, B A, ...) so neither model always finds the caches the other warmed.
 *
 * It must not know about Temporal or the CLI: progress leaves through a callback, cancellation comes
 * in through an AbortSignal, and every failure is a BenchmarkError.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InferenceSession } from 'onnxruntime-node';
import { sha256File } from '../hashing/file-sha256';
import { BenchmarkError } from './bench-error';
import { defaultThreadCount, hostInfo, loadAverage1m } from './host-info';
import { planFeeds, signatureFeeds, type FeedOptions, type FeedPlan } from './signature-feeds';
import type {
  BatchLatency,
  BenchmarkProgress,
  BenchmarkSettings,
  ComparisonReport,
  ExecutionProviderName,
  LatencyReport,
  ModelIdentity,
  PairedBatch,
  WarmupSummary,
} from './report-types';
import {
  medianCi95Sorted,
  quantileSorted,
  sortedCopy,
  summarize,
  summarizeRatios,
  throughputPerSecond,
  warmupWindowsAgree,
} from './statistics';

export const BENCHMARK_LIBRARY_DEFAULTS = {
  /** Batch 1 is the interactive latency, 32 the offline throughput Heimdall's batch jobs use. */
  batchSizes: [1, 32] as readonly number[],
  /** Upper bound of measured runs per batch size; enough for a stable p99 estimate (~2 samples above it). */
  maxRuns: 200,
  /** Fewer runs than this give no usable interval of the median, whatever the time budget says. */
  minRuns: 10,
  /** Per batch size and model, a cap: keeps a default CLI run of a large model under a minute or two. */
  timeBudgetMs: 10_000,
  /**
   * Measuring stops once the p50 is known this well: its 95% interval within ±2% of it. A fast,
   * steady model is done in a second instead of the whole budget; a noisy one runs to the budget.
   */
  targetPrecision: 0.02,
  /** Warm-up windows last about this long (at least 3, at most 50 runs); two consecutive windows must agree. */
  warmupWindowMs: 300,
  /**
   * Warm-up ends when consecutive window medians differ by at most 5%, or by less than the noise: their
   * 95% intervals overlap (on a busy machine a 5% test alone never passes).
   */
  warmupTolerance: 0.05,
  /** Warm-up lasts at least this long, so a fast model still gets caches, allocator and clocks settled. */
  warmupMinMs: 250,
  /**
   * Warm-up caps: a machine too noisy to settle is reported as `stable: false`, not waited on forever.
   * The time cap applies only after two windows (at least 6 runs), so a slow model is never unwarmed.
   */
  warmupMaxRuns: 200,
  warmupMaxMs: 10_000,
  /** Distinct input sets per batch size in rotation. */
  inputSets: 4,
  seed: 17,
} as const;

export interface BenchmarkOptions {
  batchSizes?: readonly number[];
  executionProvider?: ExecutionProviderName;
  /** The provider the caller asked for, when a test flag substitutes the CPU for CUDA. */
  requestedExecutionProvider?: ExecutionProviderName;
  testOnlyNote?: string;
  /** intra-op threads; default: the machine's available parallelism. */
  threads?: number;
  /**
   * onnxruntime's intra-op spinning. A model alone is timed with onnxruntime's default (on), as the
   * inference service runs it; a comparison turns it off (see the module header).
   */
  allowSpinning?: boolean;
  maxRuns?: number;
  minRuns?: number;
  /** A cap on measuring per batch size; it ends sooner once the p50 meets `targetPrecision`. */
  timeBudgetMs?: number;
  /** Half-width of the p50's 95% interval, relative to it, that ends measuring (0: never early). */
  targetPrecision?: number;
  warmupWindowMs?: number;
  warmupTolerance?: number;
  warmupMinMs?: number;
  warmupMaxRuns?: number;
  warmupMaxMs?: number;
  inputSets?: number;
  seed?: number;
  /** CUDA device. */
  deviceId?: number;
  /**
   * compareModels only. `alternate` (default) runs A B, B A, ...; `candidate-first` always runs the
   * candidate first: a diagnostic that puts the warm-cache bias back, to show what alternation removes.
   */
  pairOrder?: 'alternate' | 'candidate-first';
  signal?: AbortSignal;
  onProgress?: (progress: BenchmarkProgress) => void;
  /** How sessions are opened; default onnxruntime's. Tests pass one that fails as a host without CUDA does. */
  openSession?: OpenSession;
  /**
   * What the feeds need beyond the graph's signature: sizes of its symbolic dimensions other than the
   * batch, and the reference cases that give int64/bool values and default sizes (signature-feeds.ts).
   */
  inputs?: FeedOptions;
}

/** Opens an onnxruntime session on a model file or its bytes. */
export type OpenSession = (
  model: string | Uint8Array,
  options: InferenceSession.SessionOptions,
) => Promise<InferenceSession>;

export const openOnnxruntimeSession: OpenSession = (model, options) =>
  typeof model === 'string' ? InferenceSession.create(model, options) : InferenceSession.create(model, options);

export interface ModelSource {
  path: string;
  /** Shown in reports and figures; default: the file name. */
  label?: string;
}

type Resolved = Required<
  Omit<BenchmarkOptions, 'signal' | 'onProgress' | 'testOnlyNote' | 'requestedExecutionProvider' | 'inputs'>
> &
  Pick<BenchmarkOptions, 'signal' | 'onProgress' | 'testOnlyNote' | 'requestedExecutionProvider' | 'inputs'>;

function resolveOptions(options: BenchmarkOptions): Resolved {
  const d = BENCHMARK_LIBRARY_DEFAULTS;
  const r: Resolved = {
    batchSizes: options.batchSizes ?? d.batchSizes,
    executionProvider: options.executionProvider ?? 'cpu',
    threads: options.threads ?? defaultThreadCount(),
    allowSpinning: options.allowSpinning ?? false,
    maxRuns: options.maxRuns ?? d.maxRuns,
    minRuns: options.minRuns ?? Math.min(d.minRuns, options.maxRuns ?? d.minRuns),
    timeBudgetMs: options.timeBudgetMs ?? d.timeBudgetMs,
    targetPrecision: options.targetPrecision ?? d.targetPrecision,
    warmupWindowMs: options.warmupWindowMs ?? d.warmupWindowMs,
    warmupTolerance: options.warmupTolerance ?? d.warmupTolerance,
    warmupMinMs: options.warmupMinMs ?? d.warmupMinMs,
    warmupMaxRuns: options.warmupMaxRuns ?? d.warmupMaxRuns,
    warmupMaxMs: options.warmupMaxMs ?? d.warmupMaxMs,
    inputSets: options.inputSets ?? d.inputSets,
    seed: options.seed ?? d.seed,
    deviceId: options.deviceId ?? 0,
    pairOrder: options.pairOrder ?? 'alternate',
    openSession: options.openSession ?? openOnnxruntimeSession,
    signal: options.signal,
    onProgress: options.onProgress,
    testOnlyNote: options.testOnlyNote,
    requestedExecutionProvider: options.requestedExecutionProvider,
    inputs: options.inputs === undefined ? undefined : { ...options.inputs, reference: once(options.inputs.reference) },
  };
  const bad = (what: string): never => {
    throw new BenchmarkError(`bad benchmark option: ${what}`, { kind: 'bad-options' });
  };
  if (r.batchSizes.length === 0) bad('batchSizes is empty');
  for (const b of r.batchSizes) if (!Number.isInteger(b) || b < 1) bad(`batch size ${b} is not a positive integer`);
  if (!Number.isInteger(r.threads) || r.threads < 1) bad(`threads ${r.threads} is not a positive integer`);
  if (!Number.isInteger(r.maxRuns) || r.maxRuns < 1) bad(`maxRuns ${r.maxRuns} is not a positive integer`);
  if (!Number.isInteger(r.minRuns) || r.minRuns < 1 || r.minRuns > r.maxRuns)
    bad(`minRuns ${r.minRuns} must be in [1, maxRuns=${r.maxRuns}]`);
  if (!(r.timeBudgetMs >= 0)) bad(`timeBudgetMs ${r.timeBudgetMs} is negative`);
  if (!(r.targetPrecision >= 0 && r.targetPrecision < 1)) bad(`targetPrecision ${r.targetPrecision} is not in [0, 1)`);
  if (!(r.warmupWindowMs > 0)) bad(`warmupWindowMs ${r.warmupWindowMs} is not positive`);
  if (!Number.isInteger(r.inputSets) || r.inputSets < 1) bad(`inputSets ${r.inputSets} is not a positive integer`);
  return r;
}

function settingsOf(r: Resolved): BenchmarkSettings {
  return {
    executionProvider: r.executionProvider,
    requestedExecutionProvider: r.requestedExecutionProvider ?? r.executionProvider,
    intraOpThreads: r.threads,
    allowSpinning: r.allowSpinning,
    graphOptimizationLevel: 'all',
    maxRuns: r.maxRuns,
    minRuns: r.minRuns,
    timeBudgetMs: r.timeBudgetMs,
    targetPrecision: r.targetPrecision,
    warmupTolerance: r.warmupTolerance,
    inputSets: r.inputSets,
    seed: r.seed,
    ...(r.testOnlyNote ? { testOnlyNote: r.testOnlyNote } : {}),
  };
}

export function sessionOptions(
  r: Pick<Resolved, 'executionProvider' | 'threads' | 'allowSpinning' | 'deviceId'>,
): InferenceSession.SessionOptions {
  const spinning = r.allowSpinning ? '1' : '0';
  return {
    executionProviders: r.executionProvider === 'cuda' ? [{ name: 'cuda', deviceId: r.deviceId }] : ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: r.threads,
    interOpNumThreads: 1,
    // onnxruntime_session_options_config_keys.h: "0" makes idle pool threads block instead of spinning.
    extra: { session: { intra_op: { allow_spinning: spinning }, inter_op: { allow_spinning: spinning } } },
  };
}

interface OpenModel {
  session: InferenceSession;
  identity: ModelIdentity;
  sessionCreationMs: number;
  feeds: FeedPlan;
}

/** A reference getter that fetches at most once (a comparison plans the feeds of two models from it). */
function once(reference: FeedOptions['reference']): FeedOptions['reference'] {
  if (typeof reference !== 'function') return reference;
  let fetched: Promise<string> | undefined;
  return () => (fetched ??= reference());
}

async function openModel(source: ModelSource, r: Resolved): Promise<OpenModel> {
  const label = source.label ?? basename(source.path);
  let bytes: number;
  try {
    bytes = statSync(source.path).size;
  } catch (cause) {
    throw new BenchmarkError(
      `model '${source.path}' cannot be read: ${(cause as Error).message}`,
      { kind: 'model-invalid', model: label },
      { cause },
    );
  }
  const { sha256 } = await sha256File(source.path);
  r.onProgress?.({ phase: 'session', model: label, done: 0, total: 1 });
  const start = performance.now();
  let session: InferenceSession;
  try {
    session = await r.openSession(source.path, sessionOptions(r));
  } catch (cause) {
    const message = (cause as Error).message ?? String(cause);
    const providerProblem = r.executionProvider !== 'cpu' && /provider|cuda|shared library|unsupported/i.test(message);
    throw new BenchmarkError(
      `${label}: onnxruntime could not open a ${r.executionProvider} session: ${message}`,
      {
        kind: providerProblem ? 'provider-unavailable' : 'model-invalid',
        model: label,
        executionProvider: r.executionProvider,
      },
      { cause },
    );
  }
  const sessionCreationMs = performance.now() - start;
  if (session.inputNames.length === 0) {
    await session.release();
    throw new BenchmarkError(`${label}: the model has no inputs`, { kind: 'input-unsupported', model: label });
  }
  let feeds: FeedPlan;
  try {
    feeds = await planFeeds(source.path, label, r.inputs);
  } catch (err) {
    await session.release();
    throw err;
  }
  return {
    session,
    sessionCreationMs,
    feeds,
    identity: {
      label,
      path: source.path,
      bytes,
      sha256,
      inputName: session.inputNames.join(','),
      outputNames: [...session.outputNames],
    },
  };
}

function checkAbort(r: Resolved, model: string): void {
  if (r.signal?.aborted) throw new BenchmarkError(`${model}: benchmark cancelled`, { kind: 'aborted', model });
}

async function timedRun(m: OpenModel, feeds: InferenceSession.FeedsType, batchSize: number): Promise<number> {
  const start = performance.now();
  try {
    await m.session.run(feeds);
  } catch (cause) {
    throw new BenchmarkError(
      `${m.identity.label}: run at batch size ${batchSize} failed: ${(cause as Error).message}`,
      {
        kind: 'run-failed',
        model: m.identity.label,
        batchSize,
      },
      { cause },
    );
  }
  return performance.now() - start;
}

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * One step of "run every model once" (a single model, or a pair whose order the caller chooses);
 * the warm-up and measurement loops below are shared by both entry points through it.
 */
type Step = (index: number) => Promise<number[]>;

/** Runs per warm-up window: about `windowMs` of runs, clamped to [3, 50]. */
export function warmupWindowRuns(runMs: number, windowMs: number): number {
  return Math.min(50, Math.max(3, Math.round(windowMs / Math.max(runMs, 1e-3))));
}

async function warmUp(
  step: Step,
  models: number,
  r: Resolved,
  progress: (done: number) => void,
): Promise<WarmupSummary> {
  const start = performance.now();
  const series: number[][] = Array.from({ length: models }, () => []);
  let runs = 0;
  let lastChange = Number.NaN;
  let window = 0;
  for (;;) {
    const times = await step(runs);
    times.forEach((t, i) => series[i]?.push(t));
    runs++;
    progress(runs);
    if (window === 0) window = warmupWindowRuns(Math.max(...times), r.warmupWindowMs);
    const elapsed = performance.now() - start;
    if (runs >= 2 * window && elapsed >= r.warmupMinMs) {
      let stable = true;
      lastChange = 0;
      for (const s of series) {
        const verdict = warmupWindowsAgree(s.slice(-2 * window, -window), s.slice(-window), r.warmupTolerance);
        stable &&= verdict.agree;
        lastChange = Math.max(lastChange, verdict.relativeChange);
      }
      if (stable) return { runs, durationMs: elapsed, stable: true, lastWindowChange: lastChange };
    }
    // The time cap only ends a warm-up that already had its two windows: a slow model still gets them.
    if (runs >= r.warmupMaxRuns || (elapsed >= r.warmupMaxMs && runs >= 2 * window)) {
      return { runs, durationMs: elapsed, stable: false, lastWindowChange: lastChange };
    }
  }
}

/** Why measuring a batch size ended. */
export type MeasureStop = BatchLatency['stoppedBy'];

/** True when the median's 95% interval lies within ±precision of the median. */
export function medianPreciseEnough(samples: readonly number[], precision: number): boolean {
  if (!(precision > 0)) return false;
  const sorted = sortedCopy(samples);
  const [lo, hi] = medianCi95Sorted(sorted);
  const p50 = quantileSorted(sorted, 0.5);
  return p50 > 0 && (hi - lo) / 2 <= precision * p50;
}

async function measure(
  step: Step,
  models: number,
  r: Resolved,
  progress: (done: number) => void,
  preciseEnough: (series: number[][]) => boolean = () => false,
): Promise<{ series: number[][]; stoppedBy: MeasureStop }> {
  const series: number[][] = Array.from({ length: models }, () => []);
  const start = performance.now();
  for (let i = 0; i < r.maxRuns; i++) {
    if (i >= r.minRuns) {
      if (preciseEnough(series)) return { series, stoppedBy: 'precision' };
      if (performance.now() - start >= r.timeBudgetMs) return { series, stoppedBy: 'time-budget' };
    }
    const times = await step(i);
    times.forEach((t, k) => series[k]?.push(t));
    progress(i + 1);
  }
  return { series, stoppedBy: 'max-runs' };
}

function batchLatency(
  batchSize: number,
  firstRunMs: number,
  warmup: WarmupSummary,
  samplesMs: number[],
  stoppedBy: MeasureStop,
): BatchLatency {
  return {
    batchSize,
    firstRunMs,
    warmup,
    stoppedBy,
    stats: summarize(samplesMs),
    throughputPerSecond: throughputPerSecond(batchSize, samplesMs),
    peakRssBytes: peakRssBytes(),
    samplesMs,
  };
}

/** Benchmarks one model at every batch size. */
export async function benchmarkModel(source: ModelSource, options: BenchmarkOptions = {}): Promise<LatencyReport> {
  // Spinning on, onnxruntime's default and the consumer's session: it is also steadier from session
  // to session (convnext_tiny batch 1 on 2 cores: p50 within ±3% over sessions, against ±14% off).
  const r = resolveOptions({ ...options, allowSpinning: options.allowSpinning ?? true });
  const loadStart = loadAverage1m();
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const m = await openModel(source, r);
  const label = m.identity.label;
  try {
    const batches: BatchLatency[] = [];
    for (const batchSize of r.batchSizes) {
      checkAbort(r, label);
      const feeds = signatureFeeds(m.feeds, batchSize, r.inputSets, r.seed, label);
      const feed = (i: number) => feeds[i % feeds.length] as InferenceSession.FeedsType;
      const firstRunMs = await timedRun(m, feed(0), batchSize);
      const step: Step = async (i) => {
        checkAbort(r, label);
        return [await timedRun(m, feed(i + 1), batchSize)];
      };
      const warmup = await warmUp(step, 1, r, (done) =>
        r.onProgress?.({ phase: 'warmup', model: label, batchSize, done, total: r.warmupMaxRuns }),
      );
      const measured = await measure(
        step,
        1,
        r,
        (done) => r.onProgress?.({ phase: 'measure', model: label, batchSize, done, total: r.maxRuns }),
        ([samples = []]) => medianPreciseEnough(samples, r.targetPrecision),
      );
      const [samples = []] = measured.series;
      batches.push(batchLatency(batchSize, firstRunMs, warmup, samples, measured.stoppedBy));
    }
    r.onProgress?.({ phase: 'done', model: label, done: 1, total: 1 });
    return {
      kind: 'latency',
      schemaVersion: 1,
      model: m.identity,
      host: hostInfo(loadStart),
      settings: settingsOf(r),
      sessionCreationMs: m.sessionCreationMs,
      feeds: m.feeds.description,
      batches,
      startedAt,
      durationMs: performance.now() - t0,
    };
  } finally {
    await m.session.release();
  }
}

export const COMPARISON_BIAS_CONTROLS: readonly string[] = [
  'both sessions in one process with the same intra-op thread count',
  "intra-op and inter-op spinning off unless asked for: an idle pool blocks instead of burning the next run's cores",
  'order alternates per pair (candidate first, then baseline first) so neither side always runs on caches the other warmed',
  'the same random input sets, rotated identically, for both models',
  'warm-up of both models, interleaved, until both are stable',
];

/**
 * Benchmarks `candidate` against `baseline` interleaved in one process; the per-pair ratio
 * candidate/baseline cancels whatever the machine does slowly over time.
 */
export async function compareModels(
  candidate: ModelSource,
  baseline: ModelSource,
  options: BenchmarkOptions = {},
): Promise<ComparisonReport> {
  const r = resolveOptions(options);
  const loadStart = loadAverage1m();
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const a = await openModel(candidate, r);
  let b: OpenModel;
  try {
    b = await openModel(baseline, r);
  } catch (err) {
    await a.session.release();
    throw err;
  }
  if (a.identity.label === b.identity.label) {
    a.identity = { ...a.identity, label: `${a.identity.label} (candidate)` };
    b.identity = { ...b.identity, label: `${b.identity.label} (baseline)` };
  }
  try {
    const batchesA: BatchLatency[] = [];
    const batchesB: BatchLatency[] = [];
    const pairs: PairedBatch[] = [];
    const label = `${a.identity.label} vs ${b.identity.label}`;
    for (const batchSize of r.batchSizes) {
      checkAbort(r, label);
      const feedsA = signatureFeeds(a.feeds, batchSize, r.inputSets, r.seed, a.identity.label);
      const feedsB = signatureFeeds(b.feeds, batchSize, r.inputSets, r.seed, b.identity.label);
      const pick = (f: InferenceSession.FeedsType[], i: number) => f[i % f.length] as InferenceSession.FeedsType;
      const firstA = await timedRun(a, pick(feedsA, 0), batchSize);
      const firstB = await timedRun(b, pick(feedsB, 0), batchSize);
      let candidateFirst = 0;
      const pair = async (i: number, counting: boolean): Promise<number[]> => {
        checkAbort(r, label);
        if (i % 2 === 0 || r.pairOrder === 'candidate-first') {
          if (counting) candidateFirst++;
          const ta = await timedRun(a, pick(feedsA, i + 1), batchSize);
          const tb = await timedRun(b, pick(feedsB, i + 1), batchSize);
          return [ta, tb];
        }
        const tb = await timedRun(b, pick(feedsB, i + 1), batchSize);
        const ta = await timedRun(a, pick(feedsA, i + 1), batchSize);
        return [ta, tb];
      };
      const warmup = await warmUp(
        (i) => pair(i, false),
        2,
        r,
        (done) => r.onProgress?.({ phase: 'warmup', model: label, batchSize, done, total: r.warmupMaxRuns }),
      );
      // A comparison is done when the median per-pair ratio, the figure it reports, is known well enough.
      const measured = await measure(
        (i) => pair(i, true),
        2,
        r,
        (done) => r.onProgress?.({ phase: 'measure', model: label, batchSize, done, total: r.maxRuns }),
        ([sa = [], sb = []]) =>
          medianPreciseEnough(
            sa.map((t, i) => t / (sb[i] as number)),
            r.targetPrecision,
          ),
      );
      const [samplesA = [], samplesB = []] = measured.series;
      batchesA.push(batchLatency(batchSize, firstA, warmup, samplesA, measured.stoppedBy));
      batchesB.push(batchLatency(batchSize, firstB, warmup, samplesB, measured.stoppedBy));
      pairs.push({ batchSize, ratio: summarizeRatios(samplesA, samplesB), candidateFirstPairs: candidateFirst });
    }
    r.onProgress?.({ phase: 'done', model: label, done: 1, total: 1 });
    const host = hostInfo(loadStart);
    const settings = settingsOf(r);
    const durationMs = performance.now() - t0;
    const report = (m: OpenModel, batches: BatchLatency[]): LatencyReport => ({
      kind: 'latency',
      schemaVersion: 1,
      model: m.identity,
      host,
      settings,
      sessionCreationMs: m.sessionCreationMs,
      feeds: m.feeds.description,
      batches,
      startedAt,
      durationMs,
    });
    return {
      kind: 'comparison',
      schemaVersion: 1,
      candidate: report(a, batchesA),
      baseline: report(b, batchesB),
      pairs,
      biasControls: COMPARISON_BIAS_CONTROLS,
    };
  } finally {
    await a.session.release();
    await b.session.release();
  }
}
