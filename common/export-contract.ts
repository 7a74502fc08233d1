/**
 * The export workflow's public contract: its input, its result, its stages and the names that make
 * an export unique. Plain JSON, so any Temporal SDK (Python training workflows included) can start
 * `exportModel` by type name and read its result; docs/export-contract.md describes the same schema.
 * Imported by workflow code: pure functions and types only, no I/O.
 */

/** The stages in the order they run; `ExportStage` search attribute values. */
export const EXPORT_STAGES = ['emit', 'validate', 'parity', 'benchmark', 'publish', 'register'] as const;
export type StageName = (typeof EXPORT_STAGES)[number];
export type ExportStage = 'queued' | StageName | 'done' | 'failed';

/** The workflow type name, for starters that don't import our code. */
export const EXPORT_WORKFLOW_TYPE = 'exportModel';

export interface ExportRequest {
  /** The checkpoint bundle: `s3://bucket/prefix/` (config.json, model.safetensors, reference.safetensors). */
  checkpointUri: string;
  /** Registered model name in MLflow; also the object prefix under models/. Default heimdall-localization-onnx. */
  modelName?: string;
  /** The training run this checkpoint came from (an MLflow run id when there is one). */
  runId?: string;
  /** ONNX opset, MIN_EMIT_OPSET to MAX_EMIT_OPSET: DEFAULT_OPSET by default; 14–16 decompose LayerNorm. */
  opset?: number;
  /** Parity tolerances against the reference outputs; defaults DEFAULT_TOLERANCES. */
  parity?: { mae?: number; maxAbs?: number };
  /** Latency benchmark settings. */
  benchmark?: {
    batchSizes?: number[];
    threads?: number;
    /** Measured runs per batch size at most, and the time budget per batch size. */
    maxRuns?: number;
    timeBudgetMs?: number;
    /** false: no GPU benchmark. Otherwise it waits this long for a GPU worker (default 10 minutes), then is skipped. */
    gpu?: boolean;
    gpuScheduleToStartTimeout?: string;
  };
  /** Registry alias to point at the new version (default `staging`); '' for none. */
  alias?: string;
  /** Free text for the model version's description. */
  description?: string;
}

/** A content-addressed object: its identity is the sha256 of its bytes. */
export interface ArtifactRef {
  uri: string;
  sha256: string;
  bytes: number;
}

/** What the `progress` query answers. */
export interface ExportProgress {
  stage: ExportStage;
  completedStages: StageName[];
  /** Bytes of the ONNX file uploaded so far (staging upload), and its total when known. */
  bytesUploaded: number;
  bytesTotal: number | undefined;
  /** Why the export failed, when it did. */
  failure?: string;
}

export const PROGRESS_QUERY = 'progress';

/** The ai.onnx opsets the emitter writes: 14–16 decompose LayerNorm, 17 is the default, Gelu from 20 (DESIGN.md). */
export const MIN_EMIT_OPSET = 14;
export const MAX_EMIT_OPSET = 21;
export const DEFAULT_OPSET = 17;

/** Default parity tolerances (issue 3): PyTorch's own exporter lands near 5e-8 MAE, so 1e-5 flags real bugs only. */
export const DEFAULT_TOLERANCES = { mae: 1e-5, maxAbs: 1e-4 } as const;

/** A name rule: its pattern, and the words an error message uses for it. */
export interface NameRule {
  pattern: RegExp;
  expected: string;
}

/**
 * Model names become object key segments and registry names that need no quoting in MLflow filters:
 * no separators, no `..`, no control characters.
 */
export const MODEL_NAME_RULE: NameRule = {
  pattern: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
  expected:
    "1-100 characters of letters, digits, '.', '_' or '-', starting with a letter or digit (no '..', '/' or control characters)",
};
export const RUN_ID_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  expected: "1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
};

export function followsNameRule(value: unknown, rule: NameRule): value is string {
  return typeof value === 'string' && rule.pattern.test(value);
}

/** One graph input or output as MLflow's tensor-spec signature records it: -1 for a dynamic axis. */
export interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
}

/** The emitted graph's own inputs and outputs, in graph order (the inference service reads outputs by position). */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** What the emit stage returns: the staged graph and the facts about it later stages record. */
export interface EmittedGraph {
  onnx: ArtifactRef;
  checkpointSha256: string;
  opset: number;
  backbone: string;
  depths: number[];
  dims: number[];
  nodes: number;
  signature: ModelSignature;
  emitSeconds: number;
  /** How the staging upload went: `existing` when an earlier attempt had already stored it. */
  upload: { method: 'existing' | 'put' | 'multipart'; bytesSent: number; bytesReused: number };
}

/** What the validate stage returns: every problem our structural checker found (none when it passed). */
export interface ValidationReport {
  ok: boolean;
  nodes: number;
  initializers: number;
  opset: number;
  problems: { kind: string; message: string; node?: string; opType?: string; value?: string }[];
}

/** Problems with a request, each naming the field and what was expected; empty when it is valid. */
export function requestProblems(request: ExportRequest): string[] {
  const problems: string[] = [];
  if (typeof request !== 'object' || request === null) return ['request: expected an object'];
  if (typeof request.checkpointUri !== 'string' || !/^s3:\/\/[^/]+\/.*/.test(request.checkpointUri)) {
    problems.push(`checkpointUri: expected s3://bucket/prefix/, got ${JSON.stringify(request.checkpointUri)}`);
  }
  const name = request.modelName;
  if (name !== undefined && !followsNameRule(name, MODEL_NAME_RULE)) {
    problems.push(`modelName: expected ${MODEL_NAME_RULE.expected}, got ${JSON.stringify(name)}`);
  }
  const runId = request.runId;
  if (runId !== undefined && !followsNameRule(runId, RUN_ID_RULE)) {
    problems.push(`runId: expected ${RUN_ID_RULE.expected}, got ${JSON.stringify(runId)}`);
  }
  const opset = request.opset;
  if (opset !== undefined && !(Number.isInteger(opset) && opset >= MIN_EMIT_OPSET && opset <= MAX_EMIT_OPSET)) {
    problems.push(
      `opset: expected an integer from ${MIN_EMIT_OPSET} to ${MAX_EMIT_OPSET}, got ${JSON.stringify(opset)}`,
    );
  }
  for (const key of ['mae', 'maxAbs'] as const) {
    const v = request.parity?.[key];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v)))
      problems.push(`parity.${key}: expected a positive number, got ${JSON.stringify(v)}`);
  }
  const batches = request.benchmark?.batchSizes;
  if (
    batches !== undefined &&
    !(Array.isArray(batches) && batches.length > 0 && batches.every((b) => Number.isInteger(b) && b >= 1 && b <= 1024))
  ) {
    problems.push(
      `benchmark.batchSizes: expected a non-empty list of integers from 1 to 1024, got ${JSON.stringify(batches)}`,
    );
  }
  return problems;
}

/**
 * One export per training run: the workflow id. Without a run id the checkpoint's URI stands in
 * (the CLI's checkpoint URIs are content-addressed, so the same bundle gives the same id).
 */
export function exportWorkflowId(modelName: string, runIdOrCheckpointKey: string): string {
  return `export-${modelName}-${runIdOrCheckpointKey}`;
}
