/**
 * The pipeline's own metric names and label values, defined once: workflow code (workflows/metrics.ts),
 * the worker's activity interceptor (worker/stage-metrics.ts) and the integration test all use these.
 * They go through the SDK's metric meter, so they appear on the worker's Prometheus endpoint beside
 * the SDK's own `temporal_*` metrics (worker/telemetry.ts; off unless ONNX_EXPORT_METRICS_ADDRESS).
 * Pure: imported by workflow code.
 */

/** Every metric of the pipeline starts with this, so one scrape filter finds them all. */
export const METRIC_PREFIX = 'onnx_export_';

export const METRICS = {
  /** Counter, label `outcome` (EXPORT_OUTCOMES): one per exportModel run that ended. */
  exports: `${METRIC_PREFIX}exports_total`,
  /** Counter, label `outcome` (PROMOTION_OUTCOMES): one per promoteModel run that ended. */
  promotions: `${METRIC_PREFIX}promotions_total`,
  /** Histogram in seconds, labels `stage` (the activity type) and `outcome` (STAGE_OUTCOMES): one per activity attempt. */
  stageDuration: `${METRIC_PREFIX}stage_duration_seconds`,
  /** Counter: bytes this worker sent to the object store (the staged ONNX; a reused object sends none). */
  uploadedBytes: `${METRIC_PREFIX}uploaded_bytes_total`,
  /** Counter, label `reason` (GPU_SKIP_REASONS): GPU benchmarks the benchmark stage did not run. */
  gpuBenchmarksSkipped: `${METRIC_PREFIX}gpu_benchmarks_skipped_total`,
} as const;

export const METRIC_LABELS = { outcome: 'outcome', stage: 'stage', reason: 'reason' } as const;

export const EXPORT_OUTCOMES = {
  /** This export wrote the model directory or created the registry version. */
  published: 'published',
  /** Both were already there (the same bundle exported before): nothing new was published. */
  alreadyPublished: 'already_published',
  failed: 'failed',
  cancelled: 'cancelled',
  invalidRequest: 'invalid_request',
} as const;

export const PROMOTION_OUTCOMES = {
  promoted: 'promoted',
  /** The alias (and stage, when asked) already pointed at the version: no move changed anything. */
  already: 'already',
  refused: 'refused',
  failed: 'failed',
  cancelled: 'cancelled',
  invalidRequest: 'invalid_request',
} as const;

export const STAGE_OUTCOMES = { completed: 'completed', failed: 'failed', cancelled: 'cancelled' } as const;

export const GPU_SKIP_REASONS = {
  /** No worker polled the GPU queue recently (DescribeTaskQueue): no GPU in this deployment. */
  noGpuWorker: 'no_gpu_worker',
  /** A poller existed but nobody started the benchmark within its scheduleToStartTimeout. */
  scheduleToStart: 'schedule_to_start_timeout',
  /** The request said `benchmark.gpu: false`. */
  notRequested: 'not_requested',
} as const;

export type ExportOutcome = (typeof EXPORT_OUTCOMES)[keyof typeof EXPORT_OUTCOMES];
export type PromotionOutcome = (typeof PROMOTION_OUTCOMES)[keyof typeof PROMOTION_OUTCOMES];
export type StageOutcome = (typeof STAGE_OUTCOMES)[keyof typeof STAGE_OUTCOMES];
export type GpuSkipReason = (typeof GPU_SKIP_REASONS)[keyof typeof GPU_SKIP_REASONS];

/**
 * Histogram bucket bounds (seconds) of the stage durations: from a quick validate (well under a
 * second) to a convnext_tiny emit or a full benchmark (minutes). The SDK's default buckets are
 * sized for milliseconds, which would put every stage in the last bucket.
 */
export const STAGE_DURATION_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
