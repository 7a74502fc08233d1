/**
 * The export workflow's public contract: its input, its result, its stages and the names that make
 * an export unique. Plain JSON, so any Temporal SDK (Python training workflows included) can start
 * `exportModel` by type name and read its result; docs/export-contract.md describes it. The request's
 * schema is export-request.ts, built from the rules and bounds here.
 * Imported by workflow code: pure functions and types only, no I/O.
 */
import type { ModelSignature } from './model-signature';

/** The stages in the order they run; `ExportStage` search attribute values. */
export const EXPORT_STAGES = ['emit', 'validate', 'parity', 'benchmark', 'publish', 'register'] as const;
export type StageName = (typeof EXPORT_STAGES)[number];

/**
 * The model variants an export can produce. fp32 is the graph emitted from the checkpoint and always
 * comes first; int8 is derived from the validated fp32 graph (quantize/), so it needs fp32 in the same
 * export, and its registry tags name the fp32 version it came from.
 */
export const MODEL_VARIANTS = ['fp32', 'int8'] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];
/** What an export produces when the request names no variants. */
export const DEFAULT_VARIANTS: readonly ModelVariant[] = ['fp32'];

/**
 * The int8 variant's stages, in the order they run after fp32 is registered; `ExportStage` search
 * attribute values while they run (`int8:` before the stage it mirrors). A failed int8 stage fails
 * the variant alone: the export still ends `done`, and the result's `variants.int8` says why.
 */
export const INT8_STAGES = [
  'int8:quantize',
  'int8:validate',
  'int8:parity',
  'int8:benchmark',
  'int8:publish',
  'int8:register',
] as const;
export type Int8StageName = (typeof INT8_STAGES)[number];
/** Any stage of an export, fp32's or a variant's. */
export type AnyStageName = StageName | Int8StageName;
export type ExportStage = 'queued' | AnyStageName | 'done' | 'failed';

/** The registered model a variant's versions go to: fp32 under the name itself, int8 under `<name>-int8`. */
export function variantModelName(modelName: string, variant: ModelVariant): string {
  return variant === 'fp32' ? modelName : `${modelName}-${variant}`;
}
/** The longest suffix variantModelName adds (`-int8`): a model name must leave room for it. */
export const INT8_NAME_SUFFIX = '-int8';

/** The reference cases file every bundle holds (checkpoint/ reads it; parity, the benchmark and int8 calibration use it). */
export const REFERENCE_FILE = 'reference.safetensors';

/** A file of the bundle at `checkpointUri`, written with or without its trailing slash ('' : the bundle's prefix, with it). */
export function bundleFileUri(checkpointUri: string, file: string): string {
  return `${checkpointUri.endsWith('/') ? checkpointUri : `${checkpointUri}/`}${file}`;
}

/** Where a bundle's reference cases are: `<checkpointUri>/reference.safetensors`. */
export function bundleReferenceUri(checkpointUri: string): string {
  return bundleFileUri(checkpointUri, REFERENCE_FILE);
}

/** The workflow type name, for starters that don't import our code. */
export const EXPORT_WORKFLOW_TYPE = 'exportModel';

/** A content-addressed object: its identity is the sha256 of its bytes. */
export interface ArtifactRef {
  uri: string;
  sha256: string;
  bytes: number;
}

/** What the `progress` query answers. */
export interface ExportProgress {
  stage: ExportStage;
  completedStages: AnyStageName[];
  /** Bytes of the ONNX file uploaded so far (staging upload), and its total when known. */
  bytesUploaded: number;
  bytesTotal: number | undefined;
  /** Why the export failed, when it did. */
  failure?: string;
  /** The emitted graph's inputs and outputs, once emission is done (`onnx-export status` shows them). */
  signature?: ModelSignature;
  /** The int8 variant's progress, when the request asked for it (its completed stages are in completedStages). */
  variants?: {
    int8?: { status: 'pending' | 'running' | 'published' | 'failed'; stage?: Int8StageName; reason?: string };
  };
}

export const PROGRESS_QUERY = 'progress';

/** The ai.onnx opsets the emitter writes: 14–16 decompose LayerNorm, 17 is the default, Gelu from 20 (DESIGN.md). */
export const MIN_EMIT_OPSET = 14;
export const MAX_EMIT_OPSET = 21;
export const DEFAULT_OPSET = 17;

/** Default parity tolerances (issue 3): PyTorch's own exporter lands near 5e-8 MAE, so 1e-5 flags real bugs only. */
export const DEFAULT_TOLERANCES = { mae: 1e-5, maxAbs: 1e-4 } as const;

/**
 * Default parity tolerances of the int8 variant against the same PyTorch reference outputs. Measured
 * (docs/quantization.md): our int8 graphs land at positions MAE 1.0–1.4e-2, max 3.5–6.5e-2 on the
 * fixtures' convnext_tiny and convnext_large (onnxruntime's quantize_static at 1.8–2.0e-2, max
 * 6.9–7.2e-2), and a broken calibration (entropy's over-clipping) at MAE 8.8e-2: the defaults
 * leave twice our worst measured error and fail that. The training service's three models fit them
 * too (MAE 1e-3 to 1.7e-2, max at most 4e-2 on reference and holdout cases; IQResNet18's one-sample
 * case the tightest at 2.2e-2): none needs a default of its own.
 */
export const DEFAULT_INT8_TOLERANCES = { mae: 0.03, maxAbs: 0.15 } as const;

/**
 * When the int8 graph misses its gate, the accuracy-aware search keeps its most sensitive quantized
 * nodes float (quantize/accuracy-aware.ts), at most this share of them: past a fifth, the int8 graph
 * loses most of its speed (docs/quantization.md, "Accuracy-aware int8"). 0 turns the search off.
 */
export const DEFAULT_INT8_MAX_FLOAT_FRACTION = 0.2;

/**
 * What a failed parity gate found out about where its graph parts from a baseline (docs/diagnose.md,
 * "When the pipeline's parity gate fails"): the second entry of a `ParityFailed` failure's details,
 * its `summary` the end of the failure's message. `not possible` says why (no baseline, a diagnosis
 * that failed or ran out of time); the parity failure is the same either way.
 */
export interface ParityDiagnosis {
  readonly status: 'diverges' | 'within tolerance' | 'not possible';
  /** One sentence: `first divergence at \`<module path>\` (<op> node \`<node>\`), MAE … > … against …`. */
  readonly summary: string;
  /** The baseline: the fp32 graph's s3:// URI, or the reference whose intermediates were compared. */
  readonly baseline?: string;
  readonly baselineKind?: 'graph' | 'reference intermediates';
  readonly tolerances?: { readonly mae: number; readonly maxAbs: number };
  readonly firstDivergence?: {
    readonly modulePath: string;
    readonly node: string;
    readonly op: string;
    readonly tensor: string;
    readonly depth: number;
    readonly mae: number;
    readonly maxAbs: number;
    readonly nonFinite: number;
  };
  /** Tensors compared. */
  readonly tensors?: number;
  /** The stored report (JSON, every compared tensor) and its plot, beside the staged graph. */
  readonly report?: { readonly json: string; readonly svg: string };
  readonly seconds: number;
}

/**
 * The fp32 graph's metadata key by which its author names node scopes whose Conv, Gemm and MatMul
 * nodes the int8 variant leaves float (comma-separated; a scope is a node name's start up to a `/` or
 * `.`). A plug-in writes it where int8 costs accuracy for no speed (docs/quantization.md); quantize/
 * reads it. Here because both rooms import only common/.
 */
export const INT8_FLOAT_SCOPES_KEY = 'int8_float_scopes';

/**
 * How the int8 variant's activation ranges are chosen from the calibration inputs (quantize/ reads
 * these names; they live here because common/ imports nothing).
 */
export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;
export type CalibrationMethodName = (typeof CALIBRATION_METHODS)[number];

/** A name rule: its pattern, its longest length, and the words an error message uses for it. */
export interface NameRule {
  pattern: RegExp;
  maxLength: number;
  expected: string;
}

/**
 * Model names become object key segments and registry names that need no quoting in MLflow filters:
 * no separators, no `..` (a dot is never followed by another), no control characters. The patterns
 * have no lookarounds, so Go's RE2 reads them in the JSON Schema too.
 */
export const MODEL_NAME_RULE: NameRule = {
  pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])*\.?$/,
  maxLength: 100,
  expected:
    "1-100 characters of letters, digits, '.', '_' or '-', starting with a letter or digit (no '..', '/' or control characters)",
};
export const RUN_ID_RULE: NameRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
  maxLength: 128,
  expected: "1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
};
/** MLflow aliases: its own character set; MLflow reserves `latest` and `v<number>`. */
export const ALIAS_RULE: NameRule = {
  pattern: /^[A-Za-z0-9_-]+$/,
  maxLength: 255,
  expected: "an MLflow alias: 1-255 letters, digits, '_' or '-', not 'latest' and not v<number>",
};
export const RESERVED_ALIAS = /^(?:[lL][aA][tT][eE][sS][tT]|[vV][0-9]+)$/;

export function followsNameRule(value: unknown, rule: NameRule): value is string {
  return (
    typeof value === 'string' &&
    value.length <= rule.maxLength &&
    rule.pattern.test(value) &&
    (rule !== ALIAS_RULE || !RESERVED_ALIAS.test(value))
  );
}

/** A sha256 as the pipeline writes it everywhere (object keys, tags, results): lowercase hex. */
export const SHA256_RULE: NameRule = {
  pattern: /^[0-9a-f]{64}$/,
  maxLength: 64,
  expected: '64 lowercase hex characters',
};

/** The words an error uses for an S3 URI (splitS3Uri). */
export const S3_URI_EXPECTED = 's3://<bucket>/<key>';

/**
 * `s3://bucket/key` split into its parts (key '' for `s3://bucket/`), or undefined when it is not
 * one: the bucket must be a valid S3 bucket name, the key free of control characters. Each room
 * refuses an undefined with its own error, naming its field.
 */
export function splitS3Uri(uri: unknown): { bucket: string; key: string } | undefined {
  const m = typeof uri === 'string' ? /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri) : null;
  if (!m || !m[1] || /[\u0000-\u001f]/.test(m[2] ?? '')) return undefined;
  return { bucket: m[1], key: m[2] ?? '' };
}

export type { ModelSignature, SignatureDim, SignatureDtype, TensorSpec } from './model-signature';

/**
 * Where the staged graph came from: `emitted` from the checkpoint's weights by one of our
 * architectures (models/), or `brought`: the bundle's own model.onnx, taken as it is.
 */
export type GraphSource = 'emitted' | 'brought';

/** What the emit stage returns: the staged graph and the facts about it later stages record. */
export interface EmittedGraph {
  onnx: ArtifactRef;
  source: GraphSource;
  /** The graph's own producer_name and producer_version (ours when emitted; `pytorch` and its version for a torch export). */
  producer: { name: string; version: string };
  /** The architecture that emitted the graph (config.json's `architecture`); absent for a brought graph. */
  architecture?: string;
  /** That architecture's settings as the graph's metadata records them (LocalizationNet: backbone, depths, dims); {} for a brought graph. */
  settings: Record<string, string>;
  /** sha256 of the weights file the graph was emitted from, or of the brought model.onnx as given. */
  checkpointSha256: string;
  opset: number;
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
  /**
   * ai.onnx ops our checker has no schema for, with how many nodes use each: not failures; onnxruntime
   * loading the graph was their check (a load that fails is an InvalidGraph). Empty or absent when
   * every op was checked (absent in results recorded before it existed).
   */
  notChecked?: { opType: string; nodes: number }[];
}

/**
 * One export per training run: the workflow id. Without a run id the checkpoint's URI stands in
 * (the CLI's checkpoint URIs are content-addressed, so the same bundle gives the same id).
 */
export function exportWorkflowId(modelName: string, runIdOrCheckpointKey: string): string {
  return `export-${modelName}-${runIdOrCheckpointKey}`;
}
