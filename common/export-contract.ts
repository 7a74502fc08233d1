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
  /** ONNX opset: 17 by default; 14–16 decompose LayerNorm; 18–21 on request. */
  opset?: number;
  /** Parity tolerances against the reference outputs; defaults MAE 1e-5, max |error| 1e-4. */
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

/** Model names become object prefixes and registry names: no separators, dots-only or control characters. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Problems with a request, each naming the field and what was expected; empty when it is valid. */
export function requestProblems(request: ExportRequest): string[] {
  const problems: string[] = [];
  if (typeof request !== 'object' || request === null) return ['request: expected an object'];
  if (typeof request.checkpointUri !== 'string' || !/^s3:\/\/[^/]+\/.*/.test(request.checkpointUri)) {
    problems.push(`checkpointUri: expected s3://bucket/prefix/, got ${JSON.stringify(request.checkpointUri)}`);
  }
  const name = request.modelName;
  if (name !== undefined && (typeof name !== 'string' || !MODEL_NAME.test(name) || name.includes('..'))) {
    problems.push(`modelName: expected 1-100 characters of letters, digits, '.', '_' or '-' (no '..', '/' or control characters), got ${JSON.stringify(name)}`);
  }
  const runId = request.runId;
  if (runId !== undefined && (typeof runId !== 'string' || !RUN_ID.test(runId))) {
    problems.push(`runId: expected 1-128 characters of letters, digits, '.', '_' or '-', got ${JSON.stringify(runId)}`);
  }
  if (request.opset !== undefined && !(Number.isInteger(request.opset) && request.opset >= 14 && request.opset <= 21)) {
    problems.push(`opset: expected an integer from 14 to 21, got ${JSON.stringify(request.opset)}`);
  }
  for (const key of ['mae', 'maxAbs'] as const) {
    const v = request.parity?.[key];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) problems.push(`parity.${key}: expected a positive number, got ${JSON.stringify(v)}`);
  }
  const batches = request.benchmark?.batchSizes;
  if (batches !== undefined && !(Array.isArray(batches) && batches.length > 0 && batches.every((b) => Number.isInteger(b) && b >= 1 && b <= 1024))) {
    problems.push(`benchmark.batchSizes: expected a non-empty list of integers from 1 to 1024, got ${JSON.stringify(batches)}`);
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
