/**
 * The one place for names and defaults shared by workflows, activities, workers, the CLI and the
 * stack scripts. Imported by workflow code, so it must stay free of Node built-ins and I/O.
 */

/** Task queues (see shared DESIGN.md, "Queues and workers"). */
export const TASK_QUEUES = {
  /** Workflows and the general activities. */
  export: 'onnx-export',
  /** CPU benchmarks; workers run one activity at a time so timings never share cores. */
  bench: 'onnx-export-bench',
  /** Polled only by workers whose onnxruntime opened a CUDA session at start-up. */
  gpu: 'onnx-export-gpu',
} as const;

/** Typed search attributes (all Keyword) registered on the Temporal namespace by `stack up`. */
export const SEARCH_ATTRIBUTES = {
  modelName: 'ModelName',
  onnxSha256: 'OnnxSha256',
  trainingRunId: 'TrainingRunId',
  exportStage: 'ExportStage',
} as const;

export const SEARCH_ATTRIBUTE_NAMES: readonly string[] = Object.values(SEARCH_ATTRIBUTES);

/** Local stack defaults: what the CLI and the worker use when the environment names nothing. */
export const LOCAL_DEFAULTS = {
  temporalHost: '127.0.0.1',
  temporalPort: 7233,
  temporalUiPort: 8233,
  temporalNamespace: 'default',
  minioHost: '127.0.0.1',
  minioPort: 9000,
  minioConsolePort: 9001,
  /** MinIO's own well-known development credentials; a real deployment sets AWS_* in the environment. */
  minioAccessKey: 'minioadmin',
  minioSecretKey: 'minioadmin',
  mlflowHost: '127.0.0.1',
  mlflowPort: 5000,
} as const;

/** Object store layout (DESIGN.md, "Object store layout"). */
export const STORAGE_DEFAULTS = {
  modelsBucket: 'heimdall-models',
  checkpointsBucket: 'heimdall-checkpoints',
  stagingPrefix: 'staging/',
  modelsPrefix: 'models/',
} as const;

/** Registry defaults: the alias `staging` replaces the deprecated "Staging" stage. */
export const REGISTRY_DEFAULTS = {
  modelName: 'heimdall-localization-onnx',
  alias: 'staging',
} as const;

/** Workflow id of the foundation's smoke path through all three servers. */
export const SMOKE_WORKFLOW_ID_PREFIX = 'stack-smoke-';

/** Object-store uploads (storage/): sizes chosen by tools/upload-throughput-bench.ts, see its note. */
export const UPLOAD_DEFAULTS = {
  /** 16 MiB parts: ~50 parts for a 786 MB model; a retry re-sends at most this much per lost part. */
  partSizeBytes: 16 * 1024 * 1024,
  /** Parts in flight; memory is bounded by (concurrency + 1) * partSizeBytes = 80 MiB. */
  concurrency: 4,
  /** Transient errors (resets, 5xx, throttling): 6 attempts over ~15 s before the activity's own retry. */
  retry: { maxAttempts: 6, baseDelayMs: 250, maxDelayMs: 8_000 },
  /** Incomplete uploads of a key older than this belong to no live attempt (activity timeouts are far shorter). */
  staleUploadAgeMs: 6 * 60 * 60 * 1000,
} as const;

/** MLflow REST calls (registry/): transient failures retried, then the idempotent lookup decides. */
export const REGISTRY_RETRY = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 5_000 } as const;

/** Latency benchmark stage (bench/, activities/benchmark.ts, workflows/benchmark-stage.ts). */
export const BENCHMARK_STAGE = {
  /**
   * How long a GPU benchmark waits for a GPU worker before it is recorded as skipped: long enough for
   * a GPU worker busy with one other export's benchmark, short enough that a cluster without GPUs
   * only delays an export by minutes.
   */
  gpuScheduleToStartTimeout: '10 minutes',
  /**
   * A GPU worker counts as present when it polled the GPU queue this recently. A live worker's long
   * poll is renewed at least every ~70 s; the server forgets pollers after about 5 minutes.
   */
  gpuPollerRecentWithinMs: 120_000,
  /** A default benchmark of convnext_large (2 batch sizes, 10 s budget each plus warm-up) ends within minutes even on 2 cores. */
  startToCloseTimeout: '30 minutes',
  /** bench/ reports progress between runs; one convnext_large run at batch 32 takes seconds, never a minute. */
  heartbeatTimeout: '1 minute',
  /** Retries for run failures and lost workers; bad models fail non-retryably at once. */
  maximumAttempts: 3,
} as const;
