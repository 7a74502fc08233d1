/**
 * The benchmark's report contract: what the activity returns, the CLI prints with --json, the figure
 * draws, and the published model carries. Plain serialisable data (Temporal payloads, JSON files).
 *
 * Types only: workflow code imports this file, so it must never import anything with runtime code.
 */
import type { LatencyStats, RatioStats } from './statistics';

export type { LatencyStats, RatioStats } from './statistics';

export type ExecutionProviderName = 'cpu' | 'cuda';

export interface HostInfo {
  readonly cpuModel: string;
  readonly logicalCores: number;
  readonly totalMemoryBytes: number;
  readonly platform: string;
  readonly arch: string;
  readonly nodeVersion: string;
  readonly onnxruntimeVersion: string;
  /** 1-minute load average when the benchmark started and ended: how busy the machine was. */
  readonly loadAverageStart: number;
  readonly loadAverageEnd: number;
}

export interface BenchmarkSettings {
  /** The provider the session ran on. */
  readonly executionProvider: ExecutionProviderName;
  /** The provider the caller asked for; differs only on a worker started with `gpuQueueUsesCpuForTests`. */
  readonly requestedExecutionProvider: ExecutionProviderName;
  readonly intraOpThreads: number;
  /** onnxruntime `session.intra_op.allow_spinning`. */
  readonly allowSpinning: boolean;
  readonly graphOptimizationLevel: 'all';
  readonly maxRuns: number;
  readonly minRuns: number;
  readonly timeBudgetMs: number;
  /** Absent in reports from before early stopping. */
  readonly targetPrecision?: number;
  readonly warmupTolerance: number;
  /** Distinct random input sets per batch size, used in rotation. */
  readonly inputSets: number;
  readonly seed: number;
  /** Set when a test flag made the GPU queue run on the CPU provider. */
  readonly testOnlyNote?: string;
}

export interface WarmupSummary {
  readonly runs: number;
  readonly durationMs: number;
  /** False when the cap was reached before two windows agreed. */
  readonly stable: boolean;
  /** Relative change of the window median at the end of warm-up. */
  readonly lastWindowChange: number;
}

export interface BatchLatency {
  readonly batchSize: number;
  /** The first run at this batch size (shape-specific planning and allocation). */
  readonly firstRunMs: number;
  readonly warmup: WarmupSummary;
  /**
   * Why measuring ended: the p50 was known to `targetPrecision`, the time budget ran out, or
   * `maxRuns` were done. Absent in reports from before early stopping.
   */
  readonly stoppedBy?: 'precision' | 'time-budget' | 'max-runs';
  readonly stats: LatencyStats;
  readonly throughputPerSecond: number;
  /** Process peak resident set size after this batch size (process-wide: includes every session in it). */
  readonly peakRssBytes: number;
  /** The measured runs in order, milliseconds. */
  readonly samplesMs: readonly number[];
}

export interface ModelIdentity {
  readonly label: string;
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly inputName: string;
  readonly outputNames: readonly string[];
}

/** How an input's values were made: standard normals (float32), or cycled from the reference (int64, bool). */
export type FeedValues = 'random normal' | 'reference';

/** What the benchmark fed the model: the graph's inputs at the sizes it ran with. */
export interface BenchmarkFeeds {
  /** The size given to each symbolic dimension other than the batch (`{receivers: 7, seq_len: 10000}`). */
  readonly dims: Readonly<Record<string, number>>;
  /** Where each of those sizes came from: the request (`benchmark.dims`, `--dims`) or the reference's first case. */
  readonly dimsFrom: Readonly<Record<string, 'request' | 'reference'>>;
  /** Every input in graph order, its shape as run (`batch` first: each batch size in turn). */
  readonly inputs: readonly {
    readonly name: string;
    readonly dtype: string;
    readonly shape: readonly (number | 'batch')[];
    readonly values: FeedValues;
  }[];
  /** The reference case that gave sizes or values, when the reference was read. */
  readonly referenceCase?: string;
}

/** Where an activity ran; absent for CLI runs. */
export interface RanOn {
  readonly taskQueue: string;
  readonly workerIdentity: string;
}

export interface LatencyReport {
  readonly kind: 'latency';
  readonly schemaVersion: 1;
  readonly model: ModelIdentity;
  readonly host: HostInfo;
  readonly settings: BenchmarkSettings;
  readonly sessionCreationMs: number;
  /** What the model was fed. Absent in reports from before feeds followed the signature. */
  readonly feeds?: BenchmarkFeeds;
  readonly batches: readonly BatchLatency[];
  readonly startedAt: string;
  readonly durationMs: number;
  readonly ranOn?: RanOn;
}

export interface PairedBatch {
  readonly batchSize: number;
  /** Runs per model in the measured phase (pairs). */
  readonly ratio: RatioStats;
  /** How many pairs ran candidate first; the rest ran baseline first. */
  readonly candidateFirstPairs: number;
}

/**
 * An interleaved comparison: candidate and baseline measured in one process, alternating the order
 * per pair (A B, B A, ...), each side also summarised as a LatencyReport of its own samples.
 */
export interface ComparisonReport {
  readonly kind: 'comparison';
  readonly schemaVersion: 1;
  readonly candidate: LatencyReport;
  readonly baseline: LatencyReport;
  readonly pairs: readonly PairedBatch[];
  /** What the comparison does to keep the two sessions from biasing each other. */
  readonly biasControls: readonly string[];
}

/** Progress events for heartbeats and the CLI's progress bar. */
export interface BenchmarkProgress {
  readonly phase: 'session' | 'warmup' | 'measure' | 'done';
  readonly model: string;
  readonly batchSize?: number;
  readonly done: number;
  readonly total: number;
}
