/**
 * The MLflow model directory at `models/<modelName>/<sha256>/`: an `onnx` + `python_function`
 * flavored MLmodel with the tensor signature of the graph itself (its inputs and outputs, as the
 * emitter reported them), the environment files, our metadata and the stage reports, next to
 * `model.onnx` (server-side copied from staging). YAML is written with the `yaml` library, quoting
 * every string that YAML 1.1 (PyYAML, what MLflow reads it with) or 1.2 would take for another type.
 * Rendering is pure and deterministic (model_uuid derives from name + sha256; the creation time is
 * kept from an existing MLmodel), so a re-run rewrites nothing. MLmodel is written last: its
 * presence marks a complete directory. Must not talk to MLflow's tracking server.
 */
import { createHash } from 'node:crypto';
import { parse, Scalar, stringify } from 'yaml';
import { DEFAULT_OPSET, MAX_EMIT_OPSET, MIN_EMIT_OPSET, type ModelSignature } from '../common/export-contract';
import type { ContentAddressedStore } from '../storage/object-store';
import { modelDirectoryPrefix, stagingKey } from '../storage/object-keys';
import { provenanceEntries, validateProvenance, type GraphProvenance } from './graph-provenance';
import { requireModelName, requireSha256 } from './input-rules';
import { RegistryInputError } from './registry-error';

/** The MLflow release whose model format we write (the local stack's server and Python client). */
export const MLFLOW_FORMAT_VERSION = '3.17.2';
/** Python the environment files name (the stack's virtualenv). */
export const MODEL_PYTHON_VERSION = '3.11';
export const ONNX_PROVIDERS = ['CUDAExecutionProvider', 'CPUExecutionProvider'] as const;

/** MLflow's tensor-spec JSON of one side of a signature (`mlflow.types.TensorSpec.to_dict`), in graph order. */
export function mlflowTensorSpecs(specs: ModelSignature['inputs']): string {
  return JSON.stringify(
    specs.map((t) => ({ name: t.name, type: 'tensor', 'tensor-spec': { dtype: t.dtype, shape: t.shape } })),
  );
}

/** First `onnx` Python release that reads a model of this opset (the MLmodel's `onnx_version`). */
export function onnxVersionForOpset(opset: number): string {
  const table: Record<number, string> = { 18: '1.13.0', 19: '1.14.0', 20: '1.15.0', 21: '1.16.0', 22: '1.17.0' };
  return opset <= 17 ? '1.12.0' : (table[opset] ?? '1.17.0');
}

export interface ModelDirectoryInput {
  modelName: string;
  sha256: string;
  bytes: number;
  /** The graph's own inputs and outputs, recorded as the MLmodel signature. */
  signature: ModelSignature;
  opset?: number;
  runId?: string;
  workflowId?: string;
  checkpointSha256?: string;
  /** JSON-serializable reports from the parity and benchmark stages. */
  parityReport?: unknown;
  latencyReports?: unknown;
  /** An int8 graph's quantization report (quantize/: its calibration, its float nodes, the accuracy-aware search's rounds). */
  quantizationReport?: unknown;
  latencySvg?: string;
  /** Extra string metadata recorded in MLmodel `metadata` and metadata.json. */
  metadata?: Record<string, string>;
  /** Where the graph came from, recorded as metadata graph_source, graph_producer, graph_producer_version. */
  provenance?: GraphProvenance;
}

export interface DirectoryFile {
  name: string;
  body: Buffer;
  contentType: string;
}

/** Python's `str(datetime)`, as MLflow writes utc_time_created. */
export function formatUtcTimeCreated(d: Date): string {
  const iso = d.toISOString(); // 2026-11-28T17:54:06.957Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000`;
}

export function parseUtcTimeCreated(mlmodel: string): Date | undefined {
  const doc: unknown = parse(mlmodel, { version: '1.1' });
  const value = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).utc_time_created : undefined;
  const m = typeof value === 'string' ? /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{3})\d*$/.exec(value) : null;
  return m ? new Date(`${m[1]}T${m[2]}.${m[3]}Z`) : undefined;
}

/** 32 hex digits (MLflow's uuid4().hex format), derived from name and hash so re-runs agree. */
export function modelUuid(modelName: string, sha256: string): string {
  return createHash('sha256').update(`${modelName}\0${sha256}`).digest('hex').slice(0, 32);
}

/**
 * A string as a YAML scalar: plain when every YAML reader takes it back as this string, else
 * double-quoted. PyYAML (YAML 1.1) reads `yes` as true and `1.0` as a float; YAML 1.2 reads `1e5` as
 * a number: both are asked.
 */
function str(value: string): Scalar<string> {
  const scalar = new Scalar(value);
  const readsBack = (version: '1.1' | '1.2') => {
    try {
      return parse(value, { version }) === value;
    } catch {
      return false;
    }
  };
  if (!(readsBack('1.1') && readsBack('1.2'))) scalar.type = Scalar.QUOTE_DOUBLE;
  return scalar;
}

/** A YAML document as PyYAML (MLflow) writes it: block style, unindented lists, no line folding. */
function yamlText(value: unknown): string {
  return stringify(value, { version: '1.1', indentSeq: false, lineWidth: 0 });
}

export function validateDirectoryInput(input: ModelDirectoryInput): void {
  requireModelName(input.modelName);
  requireSha256(input.sha256);
  if (!Number.isSafeInteger(input.bytes) || input.bytes <= 0)
    throw new RegistryInputError('bytes', String(input.bytes), 'a positive integer byte count');
  if (
    input.opset !== undefined &&
    !(Number.isInteger(input.opset) && input.opset >= MIN_EMIT_OPSET && input.opset <= MAX_EMIT_OPSET)
  ) {
    throw new RegistryInputError(
      'opset',
      String(input.opset),
      `an integer ONNX opset in ${MIN_EMIT_OPSET}..${MAX_EMIT_OPSET}`,
    );
  }
  if (!input.signature?.inputs?.length || !input.signature.outputs?.length) {
    throw new RegistryInputError(
      'signature',
      JSON.stringify(input.signature),
      "the graph's inputs and outputs (at least one of each)",
    );
  }
  for (const t of [...input.signature.inputs, ...input.signature.outputs]) {
    if (
      typeof t?.name !== 'string' ||
      typeof t.dtype !== 'string' ||
      !Array.isArray(t.shape) ||
      !t.shape.every((d) => Number.isInteger(d) && d >= -1)
    ) {
      throw new RegistryInputError(
        'signature',
        JSON.stringify(t),
        '{ name, dtype, shape } with integer dims (-1 for a dynamic axis)',
      );
    }
  }
  if (input.provenance) validateProvenance(input.provenance);
  for (const [k, v] of Object.entries(input.metadata ?? {})) {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(k))
      throw new RegistryInputError(`metadata key`, k, 'a key of [A-Za-z0-9_.-], at most 100 characters');
    if (typeof v !== 'string') throw new RegistryInputError(`metadata.${k}`, String(v), 'a string');
  }
}

/** The `metadata` map MLmodel and metadata.json carry. */
function recordedMetadata(input: ModelDirectoryInput): Record<string, string> {
  const md: Record<string, string> = { onnx_sha256: input.sha256, model_name: input.modelName };
  if (input.opset !== undefined) md.opset = String(input.opset);
  if (input.runId) md.training_run_id = input.runId;
  if (input.workflowId) md.workflow_id = input.workflowId;
  if (input.checkpointSha256) md.checkpoint_sha256 = input.checkpointSha256;
  if (input.provenance) Object.assign(md, provenanceEntries(input.provenance));
  for (const [k, v] of Object.entries(input.metadata ?? {})) md[k] = v;
  return Object.fromEntries(Object.entries(md).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function renderMlmodel(input: ModelDirectoryInput, created: Date, modelSizeBytes: number): string {
  const opset = input.opset ?? DEFAULT_OPSET;
  const createdScalar = new Scalar(formatUtcTimeCreated(created));
  createdScalar.type = Scalar.QUOTE_SINGLE; // as MLflow writes it: a string, never a YAML timestamp
  return yamlText({
    flavors: {
      onnx: {
        code: null,
        data: 'model.onnx',
        onnx_session_options: null,
        onnx_version: str(onnxVersionForOpset(opset)),
        providers: [...ONNX_PROVIDERS],
      },
      python_function: {
        data: 'model.onnx',
        env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
        loader_module: 'mlflow.onnx',
        python_version: str(MODEL_PYTHON_VERSION),
      },
    },
    metadata: Object.fromEntries(Object.entries(recordedMetadata(input)).map(([k, v]) => [k, str(v)])),
    mlflow_version: str(MLFLOW_FORMAT_VERSION),
    model_size_bytes: modelSizeBytes,
    model_uuid: str(modelUuid(input.modelName, input.sha256)),
    ...(input.runId ? { run_id: str(input.runId) } : {}),
    signature: {
      inputs: str(mlflowTensorSpecs(input.signature.inputs)),
      outputs: str(mlflowTensorSpecs(input.signature.outputs)),
      params: null,
    },
    utc_time_created: createdScalar,
  });
}

/** Everything but model.onnx and MLmodel, in write order. */
export function renderSupportFiles(input: ModelDirectoryInput, created: Date): DirectoryFile[] {
  const opset = input.opset ?? DEFAULT_OPSET;
  const requirements = [
    `mlflow==${MLFLOW_FORMAT_VERSION}`,
    'numpy',
    `onnx>=${onnxVersionForOpset(opset)}`,
    'onnxruntime>=1.16',
  ];
  const text = (s: string) => Buffer.from(s, 'utf8');
  const json = (v: unknown) => text(`${JSON.stringify(v, null, 2)}\n`);
  const files: DirectoryFile[] = [
    { name: 'requirements.txt', body: text(`${requirements.join('\n')}\n`), contentType: 'text/plain' },
    {
      name: 'python_env.yaml',
      body: text(
        yamlText({
          python: str(MODEL_PYTHON_VERSION),
          build_dependencies: ['pip', 'setuptools', 'wheel'],
          dependencies: ['-r requirements.txt'],
        }),
      ),
      contentType: 'application/yaml',
    },
    {
      name: 'conda.yaml',
      body: text(
        yamlText({
          channels: ['conda-forge'],
          dependencies: [`python=${MODEL_PYTHON_VERSION}`, 'pip', { pip: requirements }],
          name: 'mlflow-env',
        }),
      ),
      contentType: 'application/yaml',
    },
    {
      name: 'metadata.json',
      body: json({
        ...recordedMetadata(input),
        bytes: input.bytes,
        created_utc: created.toISOString(),
        mlflow_format_version: MLFLOW_FORMAT_VERSION,
      }),
      contentType: 'application/json',
    },
  ];
  if (input.parityReport !== undefined)
    files.push({ name: 'parity-report.json', body: json(input.parityReport), contentType: 'application/json' });
  if (input.latencyReports !== undefined)
    files.push({ name: 'latency-report.json', body: json(input.latencyReports), contentType: 'application/json' });
  if (input.quantizationReport !== undefined)
    files.push({
      name: 'quantization-report.json',
      body: json(input.quantizationReport),
      contentType: 'application/json',
    });
  if (input.latencySvg !== undefined)
    files.push({ name: 'latency.svg', body: text(input.latencySvg), contentType: 'image/svg+xml' });
  return files;
}

export interface PublishedModel {
  modelName: string;
  sha256: string;
  /** `s3://bucket/models/<name>/<sha256>`: the directory, MLflow's model version `source`. */
  source: string;
  bytes: number;
  files: string[];
  modelUuid: string;
  createdUtc: string;
  /** false when the directory was already complete and nothing was written. */
  written: boolean;
}

/**
 * Publishes the model directory: copies `staging/<sha256>/model.onnx` server-side (or from
 * `stagedKey`), writes the support files, then MLmodel. Idempotent.
 */
export async function publishModelDirectory(
  store: ContentAddressedStore,
  input: ModelDirectoryInput,
  opts: { stagedKey?: string; now?: () => Date } = {},
): Promise<PublishedModel> {
  validateDirectoryInput(input);
  const prefix = modelDirectoryPrefix(input.modelName, input.sha256);
  const mlmodelKey = `${prefix}MLmodel`;
  const existing = await store.stat(mlmodelKey);
  const created =
    (existing ? parseUtcTimeCreated((await store.readSmall(mlmodelKey)).toString('utf8')) : undefined) ??
    (opts.now ?? (() => new Date()))();

  const copy = await store.copyObject(opts.stagedKey ?? stagingKey(input.sha256), `${prefix}model.onnx`, input.sha256);
  if (copy.bytes !== input.bytes) {
    throw new RegistryInputError('bytes', String(input.bytes), `the staged object's size ${copy.bytes}`);
  }
  let written = copy.copied;
  const support = renderSupportFiles(input, created);
  for (const f of support)
    written = (await store.putBytes(`${prefix}${f.name}`, f.body, f.contentType)).written || written;
  const sizeBytes = input.bytes + support.reduce((n, f) => n + f.body.length, 0);
  const mlmodel = Buffer.from(renderMlmodel(input, created, sizeBytes), 'utf8');
  written = (await store.putBytes(mlmodelKey, mlmodel, 'application/yaml')).written || written;
  const source = store.uri(prefix.slice(0, -1));
  return {
    modelName: input.modelName,
    sha256: input.sha256,
    source,
    bytes: input.bytes,
    files: ['model.onnx', ...support.map((f) => f.name), 'MLmodel'],
    modelUuid: modelUuid(input.modelName, input.sha256),
    createdUtc: created.toISOString(),
    written,
  };
}
