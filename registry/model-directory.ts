/**
 * The MLflow model directory at `models/<modelName>/<sha256>/`: an `onnx` + `python_function`
 * flavored MLmodel with the tensor signature Heimdall's service loads, the environment files, our
 * metadata and the stage reports, next to `model.onnx` (server-side copied from staging).
 * Rendering is pure and deterministic (model_uuid derives from name + sha256; the creation time is
 * kept from an existing MLmodel), so a re-run rewrites nothing. MLmodel is written last: its
 * presence marks a complete directory. Must not talk to MLflow's tracking server.
 */
import { createHash } from 'node:crypto';
import type { ContentAddressedStore } from '../storage/object-store';
import { modelDirectoryPrefix, stagingKey, validateModelName, validateSha256 } from '../storage/object-keys';
import { RegistryInputError } from './registry-error';

/** The MLflow release whose model format we write (the local stack's server and Python client). */
export const MLFLOW_FORMAT_VERSION = '3.17.2';
/** Python the environment files name (the stack's virtualenv). */
export const MODEL_PYTHON_VERSION = '3.11';
export const ONNX_PROVIDERS = ['CUDAExecutionProvider', 'CPUExecutionProvider'] as const;

/** Signature of LocalizationNet's ONNX graph (DESIGN.md, "Contracts"). -1 is MLflow's variable batch. */
export const LOCALIZATION_SIGNATURE = {
  inputs: [{ name: 'mel_spectrogram', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3, 128, 32] } }],
  outputs: [
    { name: 'positions', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 2] } },
    { name: 'uncertainties', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 2] } },
  ],
} as const;

/** First `onnx` Python release that reads a model of this opset (the MLmodel's `onnx_version`). */
export function onnxVersionForOpset(opset: number): string {
  const table: Record<number, string> = { 18: '1.13.0', 19: '1.14.0', 20: '1.15.0', 21: '1.16.0', 22: '1.17.0' };
  return opset <= 17 ? '1.12.0' : (table[opset] ?? '1.17.0');
}

export interface ModelDirectoryInput {
  modelName: string;
  sha256: string;
  bytes: number;
  opset?: number;
  runId?: string;
  workflowId?: string;
  checkpointSha256?: string;
  /** JSON-serializable reports from the parity and benchmark stages. */
  parityReport?: unknown;
  latencyReports?: unknown;
  latencySvg?: string;
  /** Extra string metadata recorded in MLmodel `metadata` and metadata.json. */
  metadata?: Record<string, string>;
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
  const m = /^utc_time_created: '(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{3})\d*'$/m.exec(mlmodel);
  return m ? new Date(`${m[1]}T${m[2]}.${m[3]}Z`) : undefined;
}

/** 32 hex digits (MLflow's uuid4().hex format), derived from name and hash so re-runs agree. */
export function modelUuid(modelName: string, sha256: string): string {
  return createHash('sha256').update(`${modelName}\0${sha256}`).digest('hex').slice(0, 32);
}

/** YAML scalar: JSON strings are valid double-quoted YAML; plain words stay plain. */
function y(value: string): string {
  return /^[A-Za-z0-9_.\-/]+$/.test(value) && !/^(true|false|null|yes|no|on|off|[-+.\d][\d.eE+-]*)$/i.test(value) ? value : JSON.stringify(value);
}

export function validateDirectoryInput(input: ModelDirectoryInput): void {
  validateModelName(input.modelName);
  validateSha256(input.sha256);
  if (!Number.isSafeInteger(input.bytes) || input.bytes <= 0) throw new RegistryInputError('bytes', String(input.bytes), 'a positive integer byte count');
  if (input.opset !== undefined && !(Number.isInteger(input.opset) && input.opset >= 7 && input.opset <= 30)) {
    throw new RegistryInputError('opset', String(input.opset), 'an integer ONNX opset in 7..30');
  }
  for (const [k, v] of Object.entries(input.metadata ?? {})) {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(k)) throw new RegistryInputError(`metadata key`, k, 'a key of [A-Za-z0-9_.-], at most 100 characters');
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
  for (const [k, v] of Object.entries(input.metadata ?? {})) md[k] = v;
  return Object.fromEntries(Object.entries(md).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function renderMlmodel(input: ModelDirectoryInput, created: Date, modelSizeBytes: number): string {
  const opset = input.opset ?? 17;
  const lines = [
    'flavors:',
    '  onnx:',
    '    code: null',
    '    data: model.onnx',
    '    onnx_session_options: null',
    `    onnx_version: ${onnxVersionForOpset(opset)}`,
    '    providers:',
    ...ONNX_PROVIDERS.map((p) => `    - ${p}`),
    '  python_function:',
    '    data: model.onnx',
    '    env:',
    '      conda: conda.yaml',
    '      virtualenv: python_env.yaml',
    '    loader_module: mlflow.onnx',
    `    python_version: ${y(MODEL_PYTHON_VERSION)}`,
    'metadata:',
    ...Object.entries(recordedMetadata(input)).map(([k, v]) => `  ${k}: ${y(v)}`),
    `mlflow_version: ${MLFLOW_FORMAT_VERSION}`,
    `model_size_bytes: ${modelSizeBytes}`,
    `model_uuid: ${modelUuid(input.modelName, input.sha256)}`,
    ...(input.runId ? [`run_id: ${y(input.runId)}`] : []),
    'signature:',
    `  inputs: ${JSON.stringify(JSON.stringify(LOCALIZATION_SIGNATURE.inputs))}`,
    `  outputs: ${JSON.stringify(JSON.stringify(LOCALIZATION_SIGNATURE.outputs))}`,
    '  params: null',
    `utc_time_created: '${formatUtcTimeCreated(created)}'`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Everything but model.onnx and MLmodel, in write order. */
export function renderSupportFiles(input: ModelDirectoryInput, created: Date): DirectoryFile[] {
  const opset = input.opset ?? 17;
  const requirements = [`mlflow==${MLFLOW_FORMAT_VERSION}`, 'numpy', `onnx>=${onnxVersionForOpset(opset)}`, 'onnxruntime>=1.16'];
  const text = (s: string) => Buffer.from(s, 'utf8');
  const json = (v: unknown) => text(`${JSON.stringify(v, null, 2)}\n`);
  const files: DirectoryFile[] = [
    { name: 'requirements.txt', body: text(`${requirements.join('\n')}\n`), contentType: 'text/plain' },
    { name: 'python_env.yaml', body: text(`python: ${y(MODEL_PYTHON_VERSION)}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n`), contentType: 'application/yaml' },
    {
      name: 'conda.yaml',
      body: text(`channels:\n- conda-forge\ndependencies:\n- python=${MODEL_PYTHON_VERSION}\n- pip\n- pip:\n${requirements.map((r) => `  - ${r}`).join('\n')}\nname: mlflow-env\n`),
      contentType: 'application/yaml',
    },
    {
      name: 'metadata.json',
      body: json({ ...recordedMetadata(input), bytes: input.bytes, created_utc: created.toISOString(), mlflow_format_version: MLFLOW_FORMAT_VERSION }),
      contentType: 'application/json',
    },
  ];
  if (input.parityReport !== undefined) files.push({ name: 'parity-report.json', body: json(input.parityReport), contentType: 'application/json' });
  if (input.latencyReports !== undefined) files.push({ name: 'latency-report.json', body: json(input.latencyReports), contentType: 'application/json' });
  if (input.latencySvg !== undefined) files.push({ name: 'latency.svg', body: text(input.latencySvg), contentType: 'image/svg+xml' });
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
  const created = (existing ? parseUtcTimeCreated((await store.readSmall(mlmodelKey)).toString('utf8')) : undefined) ?? (opts.now ?? (() => new Date()))();

  const copy = await store.copyObject(opts.stagedKey ?? stagingKey(input.sha256), `${prefix}model.onnx`, input.sha256);
  if (copy.bytes !== input.bytes) {
    throw new RegistryInputError('bytes', String(input.bytes), `the staged object's size ${copy.bytes}`);
  }
  let written = copy.copied;
  const support = renderSupportFiles(input, created);
  for (const f of support) written = (await store.putBytes(`${prefix}${f.name}`, f.body, f.contentType)).written || written;
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
