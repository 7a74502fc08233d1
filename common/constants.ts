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
