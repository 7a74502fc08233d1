/**
 * The idempotent registry write: one MLflow model version per (model name, ONNX sha256), however
 * often it is attempted. MLflow does not de-duplicate, so the sha256 travels as a tag set in the
 * same create request, and the version is looked up by that tag before creating and again after
 * any failure of the create (a lost response may hide a version that exists). If two racing
 * attempts both created one, the later is deleted and the lowest version kept.
 * Knows nothing of Temporal; must not log or return the tracking token.
 */
import { REGISTRY_RETRY } from '../common/constants';
import { ALIAS_RULE, followsNameRule, MODEL_VARIANTS, RUN_ID_RULE, type ModelVariant } from '../common/export-contract';
import { realSleep, retryWithBackoff } from '../common/retry-backoff';
import { findServiceAccessError } from '../config/service-access-error';
import {
  isRetryableMlflowError,
  type CreateModelVersionRequest,
  type ModelVersion,
  type RegisteredModel,
} from './mlflow-client';
import { PROVENANCE_KEYS, provenanceEntries, validateProvenance, type GraphProvenance } from './graph-provenance';
import { requireModelName, requireS3Uri, requireSha256 } from './input-rules';
import { RegistrationError, RegistryInputError } from './registry-error';

/** The subset of MlflowClient this module needs (unit tests supply a fake). */
export interface ModelRegistryApi {
  readonly trackingUri: string;
  ensureRegisteredModel(name: string, description?: string): Promise<RegisteredModel>;
  createModelVersion(req: CreateModelVersionRequest): Promise<ModelVersion>;
  searchModelVersions(filter: string): Promise<ModelVersion[]>;
  deleteModelVersion(name: string, version: string): Promise<void>;
  setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void>;
}

/** MLflow's longest tag value. */
export const MAX_TAG_VALUE_LENGTH = 5000;

/** Tag keys on every version we create; `onnx_sha256` is the de-duplication key. */
export const VERSION_TAGS = {
  sha256: 'onnx_sha256',
  parityMaxAbs: 'parity_max_abs_error',
  parityMae: 'parity_mean_abs_error',
  cpuP50Ms: 'cpu_p50_ms',
  cpuP95Ms: 'cpu_p95_ms',
  opset: 'onnx_opset',
  workflowId: 'temporal_workflow_id',
  runId: 'training_run_id',
  /** `fp32` or `int8`: which variant of the export this version is. */
  variant: 'variant',
  /** On an int8 version: the fp32 version (under the unsuffixed name) and graph it was quantized from. */
  fp32ModelVersion: 'fp32_model_version',
  fp32Sha256: 'fp32_onnx_sha256',
  calibrationMethod: 'calibration_method',
  calibrationSource: 'calibration_source',
  /** On an int8 version: how many quantizable nodes the accuracy-aware search kept float, of how many, and which. */
  floatNodes: 'int8_float_nodes',
  quantizableNodes: 'int8_quantizable_nodes',
  floatNodeNames: 'int8_float_node_names',
  /** Where the graph came from (graph-provenance.ts): emitted or brought, and its own producer. */
  graphSource: PROVENANCE_KEYS.source,
  graphProducer: PROVENANCE_KEYS.producer,
  graphProducerVersion: PROVENANCE_KEYS.producerVersion,
} as const;

export interface RegisterModelInput {
  modelName: string;
  sha256: string;
  /** `s3://bucket/models/<name>/<sha256>`: the published MLflow model directory. */
  source: string;
  /** MLflow run of the training job, when known (becomes the version's run_id). */
  runId?: string;
  workflowId?: string;
  opset?: number;
  parity?: { maxAbsError: number; meanAbsError: number };
  cpuP50Ms?: number;
  /** The CPU benchmark's p95 at its first batch size: what `promoteModel --max-p95-ms` gates on. */
  cpuP95Ms?: number;
  description?: string;
  /** Alias to point at the version; null for none. */
  alias?: string | null;
  /** Extra tags (keys must not collide with VERSION_TAGS). */
  tags?: Record<string, string>;
  /** The variant this version is (tag `variant`); absent on versions registered before variants existed. */
  variant?: ModelVariant;
  /** An int8 version's fp32 origin: the fp32 version number and its graph's sha256. */
  derivedFrom?: { modelVersion: string; onnxSha256: string };
  /** An int8 version's calibration: the method and the bundle file its inputs came from. */
  calibration?: { method: string; source: string };
  /**
   * An int8 version's nodes kept float by the accuracy-aware search, of its quantizable nodes. The
   * tag lists as many names as fit MLflow's 5000 characters; the stored quantization report has all.
   */
  keptFloat?: { nodes: readonly string[]; quantizable: number };
  /** Where the graph came from (tags graph_source, graph_producer, graph_producer_version); absent before it was recorded. */
  provenance?: GraphProvenance;
}

export interface RegistryEntry {
  modelName: string;
  version: string;
  sha256: string;
  source: string;
  runId: string | undefined;
  alias: string | undefined;
  /** `models:/<name>/<version>`, what mlflow.pyfunc.load_model takes. */
  modelUri: string;
  uiUrl: string;
  /** false when an earlier attempt (or another worker) had already registered this sha256. */
  created: boolean;
}

export interface RegisterOptions {
  retry?: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  sleep?: (ms: number) => Promise<void>;
}

export function validateRegisterInput(input: RegisterModelInput): void {
  requireModelName(input.modelName);
  requireSha256(input.sha256);
  requireS3Uri(input.source, 'source');
  if (!input.source.includes(input.sha256)) {
    throw new RegistryInputError('source', input.source, `the model directory of sha256 ${input.sha256}`);
  }
  if (input.alias != null && !followsNameRule(input.alias, ALIAS_RULE)) {
    throw new RegistryInputError('alias', input.alias, ALIAS_RULE.expected);
  }
  if (input.runId !== undefined && !followsNameRule(input.runId, RUN_ID_RULE)) {
    throw new RegistryInputError('runId', input.runId, `${RUN_ID_RULE.expected} (an MLflow run id)`);
  }
  for (const [k, v] of Object.entries(input.tags ?? {})) {
    if ((Object.values(VERSION_TAGS) as string[]).includes(k))
      throw new RegistryInputError('tags key', k, 'a key not reserved by the registry stage');
    if (!/^[A-Za-z0-9_.\-/ ]{1,250}$/.test(k))
      throw new RegistryInputError('tags key', k, 'an MLflow tag key of at most 250 characters');
    if (typeof v !== 'string' || v.length > MAX_TAG_VALUE_LENGTH)
      throw new RegistryInputError(
        `tags.${k}`,
        String(v).slice(0, 80),
        `a string of at most ${MAX_TAG_VALUE_LENGTH} characters`,
      );
  }
  if (input.variant !== undefined && !(MODEL_VARIANTS as readonly string[]).includes(input.variant))
    throw new RegistryInputError('variant', String(input.variant), `one of ${MODEL_VARIANTS.join(', ')}`);
  if (input.derivedFrom) {
    if (!/^[1-9][0-9]{0,9}$/.test(input.derivedFrom.modelVersion))
      throw new RegistryInputError(
        'derivedFrom.modelVersion',
        input.derivedFrom.modelVersion,
        'an MLflow version number',
      );
    requireSha256(input.derivedFrom.onnxSha256, 'derivedFrom.onnxSha256');
  }
  for (const [field, v] of Object.entries(input.calibration ?? {})) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(v))
      throw new RegistryInputError(`calibration.${field}`, String(v), "1-100 letters, digits, '.', '_' or '-'");
  }
  if (input.provenance) validateProvenance(input.provenance);
  if (input.keptFloat) {
    const { nodes, quantizable } = input.keptFloat;
    if (!Number.isInteger(quantizable) || quantizable < nodes.length)
      throw new RegistryInputError('keptFloat.quantizable', String(quantizable), `an integer ≥ ${nodes.length}`);
    for (const n of nodes)
      if (typeof n !== 'string' || n === '' || n.includes(','))
        throw new RegistryInputError('keptFloat.nodes', String(n), 'node names without commas');
  }
  const finite = (field: string, v: number | undefined) => {
    if (v !== undefined && !Number.isFinite(v)) throw new RegistryInputError(field, String(v), 'a finite number');
  };
  finite('parity.maxAbsError', input.parity?.maxAbsError);
  finite('parity.meanAbsError', input.parity?.meanAbsError);
  finite('cpuP50Ms', input.cpuP50Ms);
  finite('cpuP95Ms', input.cpuP95Ms);
  finite('opset', input.opset);
}

export function versionTags(input: RegisterModelInput): { key: string; value: string }[] {
  const t: Record<string, string> = { [VERSION_TAGS.sha256]: input.sha256 };
  if (input.parity) {
    t[VERSION_TAGS.parityMaxAbs] = String(input.parity.maxAbsError);
    t[VERSION_TAGS.parityMae] = String(input.parity.meanAbsError);
  }
  if (input.cpuP50Ms !== undefined) t[VERSION_TAGS.cpuP50Ms] = String(input.cpuP50Ms);
  if (input.cpuP95Ms !== undefined) t[VERSION_TAGS.cpuP95Ms] = String(input.cpuP95Ms);
  if (input.opset !== undefined) t[VERSION_TAGS.opset] = String(input.opset);
  if (input.workflowId) t[VERSION_TAGS.workflowId] = input.workflowId;
  if (input.runId) t[VERSION_TAGS.runId] = input.runId;
  if (input.variant) t[VERSION_TAGS.variant] = input.variant;
  if (input.derivedFrom) {
    t[VERSION_TAGS.fp32ModelVersion] = input.derivedFrom.modelVersion;
    t[VERSION_TAGS.fp32Sha256] = input.derivedFrom.onnxSha256;
  }
  if (input.calibration) {
    t[VERSION_TAGS.calibrationMethod] = input.calibration.method;
    t[VERSION_TAGS.calibrationSource] = input.calibration.source;
  }
  if (input.keptFloat) {
    t[VERSION_TAGS.floatNodes] = String(input.keptFloat.nodes.length);
    t[VERSION_TAGS.quantizableNodes] = String(input.keptFloat.quantizable);
    t[VERSION_TAGS.floatNodeNames] = nameList(input.keptFloat.nodes, MAX_TAG_VALUE_LENGTH);
  }
  if (input.provenance) Object.assign(t, provenanceEntries(input.provenance));
  Object.assign(t, input.tags ?? {});
  return Object.entries(t).map(([key, value]) => ({ key, value }));
}

/**
 * `a,b,c` in at most `limit` characters: as many whole names as fit, then `,… (+k more)` for the
 * rest (the stored report lists them all).
 */
export function nameList(names: readonly string[], limit: number): string {
  const all = names.join(',');
  if (all.length <= limit) return all;
  let kept = 0;
  let length = 0;
  const more = (k: number) => `,… (+${k} more)`;
  while (kept < names.length) {
    const next = length + (kept > 0 ? 1 : 0) + (names[kept] as string).length;
    if (next + more(names.length - kept - 1).length > limit) break;
    length = next;
    kept += 1;
  }
  return `${names.slice(0, kept).join(',')}${more(names.length - kept)}`;
}

/** Names and hashes are validated to [A-Za-z0-9._-] and hex, so they need no quoting. */
export function sha256Filter(modelName: string, sha256: string): string {
  return `name='${modelName}' AND tags.${VERSION_TAGS.sha256}='${sha256}'`;
}

function lowestVersion(versions: ModelVersion[]): ModelVersion | undefined {
  return [...versions].sort((a, b) => Number(a.version) - Number(b.version))[0];
}

/**
 * The lowest version with this sha256, after deleting any above it: duplicates a racing create left
 * behind when its own clean-up was cut short (the worker died between create and delete).
 */
async function findAndPruneDuplicates(
  api: ModelRegistryApi,
  modelName: string,
  filter: string,
): Promise<ModelVersion | undefined> {
  const versions = await api.searchModelVersions(filter);
  const lowest = lowestVersion(versions);
  for (const v of versions) {
    if (lowest && v.version !== lowest.version) await api.deleteModelVersion(modelName, v.version);
  }
  return lowest;
}

export async function registerModelVersion(
  api: ModelRegistryApi,
  input: RegisterModelInput,
  opts: RegisterOptions = {},
): Promise<RegistryEntry> {
  validateRegisterInput(input);
  const policy = opts.retry ?? REGISTRY_RETRY;
  const sleep = opts.sleep ?? realSleep;
  const { modelName, sha256 } = input;
  const filter = sha256Filter(modelName, sha256);
  const find = async () => lowestVersion(await api.searchModelVersions(filter));
  const fail = (what: string, err: unknown, attempts: number) => {
    const retryable = isRetryableMlflowError(err);
    return new RegistrationError(
      `register ${modelName} (onnx_sha256 ${sha256}): ${what}: ${err instanceof Error ? err.message : String(err)}`,
      { modelName, sha256, retryable, attempts },
      { cause: err },
    );
  };

  const retrying = (what: string) => ({
    isRetryable: isRetryableMlflowError,
    giveUp: (err: unknown, attempts: number) => fail(what, err, attempts),
    sleep,
  });

  // Registered model: create-if-missing; a lost create answer is settled by creating again (ALREADY_EXISTS).
  await retryWithBackoff(
    policy,
    () =>
      api.ensureRegisteredModel(
        modelName,
        input.variant === 'int8'
          ? 'int8 (QDQ) ONNX exports of a Heimdall localization model, quantized from the fp32 versions (onnx-export-pipeline)'
          : 'ONNX exports of a Heimdall localization model (onnx-export-pipeline)',
      ),
    retrying('registered model'),
  );

  const request: CreateModelVersionRequest = {
    name: modelName,
    source: input.source,
    tags: versionTags(input),
    ...(input.runId ? { run_id: input.runId } : {}),
    ...(input.description ? { description: input.description } : {}),
  };
  /**
   * MLflow's auth app requires READ on a version's run: a training run the pipeline's user cannot
   * read (or a run id that is not MLflow's, which it answers the same way) refuses the create with
   * 403. The version is then created without the link; the training_run_id tag keeps the id. A
   * refused create was not applied, so sending it again is safe.
   */
  const createVersion = async (): Promise<ModelVersion> => {
    try {
      return await api.createModelVersion(request);
    } catch (err) {
      if (!request.run_id || findServiceAccessError(err)?.context.code !== '403') throw err;
      const { run_id: _unlinked, ...withoutRun } = request;
      return api.createModelVersion(withoutRun);
    }
  };
  const createOnce = async (attempt: number): Promise<{ version: ModelVersion; created: boolean }> => {
    // A retry never creates blind: an earlier attempt's create may have been applied with its answer
    // lost, and the lookup after it failed too (MLflow down). If this search fails, so does the attempt.
    if (attempt > 1) {
      const earlier = await find();
      if (earlier) return { version: earlier, created: true };
    }
    try {
      const mine = await createVersion();
      // Converge with a racing attempt: the lowest version with this sha256 wins; ours goes if it is not it.
      const lowest = (await find()) ?? mine;
      if (lowest.version !== mine.version) {
        await api.deleteModelVersion(modelName, mine.version);
        return { version: lowest, created: false };
      }
      return { version: lowest, created: true };
    } catch (err) {
      // Whatever failed (lost answer, timeout, 5xx, 4xx), the version may exist: look before retrying.
      const found = await find().catch(() => undefined);
      if (found) return { version: found, created: true };
      throw err;
    }
  };

  const existing = await findAndPruneDuplicates(api, modelName, filter).catch((err: unknown) => {
    throw fail('search before create', err, 1);
  });
  const { version, created } = existing
    ? { version: existing, created: false }
    : await retryWithBackoff(policy, createOnce, retrying('create model version'));

  const alias = input.alias ?? undefined;
  if (alias) {
    try {
      await api.setRegisteredModelAlias(modelName, alias, version.version);
    } catch (err) {
      throw fail(`set alias '${alias}' on version ${version.version}`, err, 1);
    }
  }
  const base = api.trackingUri.replace(/\/+$/, '');
  return {
    modelName,
    version: version.version,
    sha256,
    source: version.source ?? input.source,
    runId: version.run_id || undefined,
    alias,
    modelUri: `models:/${modelName}/${version.version}`,
    uiUrl: `${base}/#/models/${encodeURIComponent(modelName)}/versions/${version.version}`,
    created,
  };
}
