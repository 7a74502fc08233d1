/**
 * Promotion of a registered version: the request's checks, the gates (a pure verdict from the
 * gates and the version's recorded tags) and the two idempotent moves, an alias and optionally a
 * legacy stage. Decides nothing about retries or Temporal; moves nothing when a gate refuses (the
 * caller runs the moves only after a `pass`).
 */
import {
  checkPromoteRequest,
  type AliasMove,
  type GateCheck,
  type LegacyStage,
  type PromoteRequest,
  type PromotionCheck,
  type PromotionGates,
  type StageMove,
} from '../common/promotion';
import type { ModelVersion, RegisteredModel } from './mlflow-client';
import { VERSION_TAGS } from './register-model-version';
import { RegistryInputError } from './registry-error';

/** The subset of MlflowClient a promotion needs (unit tests supply a fake). */
export interface PromotionRegistryApi {
  getRegisteredModel(name: string): Promise<RegisteredModel | undefined>;
  getModelVersion(name: string, version: string): Promise<ModelVersion | undefined>;
  searchModelVersions(filter: string): Promise<ModelVersion[]>;
  setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void>;
  transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExistingVersions: boolean,
  ): Promise<ModelVersion>;
}

/** Checks a promote request; throws RegistryInputError naming the first bad field. */
export function validatePromoteRequest(input: unknown): PromoteRequest {
  const checked = checkPromoteRequest(input);
  if (checked.ok) return checked.value;
  const [first] = checked.problems;
  if (!first) throw new RegistryInputError('request', '', 'a promote request');
  const sent = typeof first.value === 'string' ? first.value : (JSON.stringify(first.value) ?? 'nothing');
  throw new RegistryInputError(first.field, sent, first.expected);
}

/** Each gate, the tag it reads and how its reason names it (the CLI's option names). */
const GATES: readonly { gate: keyof PromotionGates; tag: string; option: string }[] = [
  { gate: 'maxMae', tag: VERSION_TAGS.parityMae, option: '--max-mae' },
  { gate: 'maxP95Ms', tag: VERSION_TAGS.cpuP95Ms, option: '--max-p95-ms' },
];

/** A tag's value as a finite number, else undefined. */
function numericTag(tags: ReadonlyMap<string, string>, key: string): number | undefined {
  const raw = tags.get(key);
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The verdict of `gates` on a version's tags: each given gate passes when its tag is recorded and at
 * most the limit; a missing or non-numeric tag refuses (nothing recorded means nothing proven).
 */
export function evaluateGates(
  gates: PromotionGates,
  tags: readonly { key: string; value: string }[],
): { verdict: 'pass' | 'refuse'; checks: GateCheck[]; reasons: string[] } {
  const byKey = new Map(tags.map((t) => [t.key, t.value]));
  const checks: GateCheck[] = [];
  for (const { gate, tag, option } of GATES) {
    const max = gates[gate];
    if (max === undefined) continue;
    if (!Number.isFinite(max) || max < 0)
      throw new RegistryInputError(`gates.${gate}`, String(max), 'a finite limit ≥ 0');
    const recorded = numericTag(byKey, tag);
    const raw = byKey.get(tag);
    let reason: string | undefined;
    if (raw === undefined)
      reason = `${option} ${max}: the version has no tag '${tag}' (tag missing), so it cannot be checked`;
    else if (recorded === undefined) reason = `${option} ${max}: tag '${tag}' is not a number: ${JSON.stringify(raw)}`;
    else if (recorded > max) reason = `${option} ${max}: tag '${tag}' records ${recorded}, above the limit ${max}`;
    checks.push({ gate, tag, limit: max, recorded, passed: reason === undefined, ...(reason ? { reason } : {}) });
  }
  const reasons = checks.flatMap((c) => (c.reason ? [c.reason] : []));
  return { verdict: reasons.length ? 'refuse' : 'pass', checks, reasons };
}

/** Reads the version and what holds the alias and stage now, and judges the gates. Moves nothing. */
export async function checkPromotion(api: PromotionRegistryApi, input: PromoteRequest): Promise<PromotionCheck> {
  const request = validatePromoteRequest(input);
  const { modelName, version } = request;
  const mv = await api.getModelVersion(modelName, version);
  if (!mv) throw new RegistryInputError('version', `${modelName}/${version}`, 'a registered model version');
  const tags = mv.tags ?? [];
  const { verdict, checks, reasons } = evaluateGates(request.gates ?? {}, tags);
  if (mv.status !== undefined && mv.status !== 'READY') reasons.push(`version ${version} is ${mv.status}, not READY`);
  const model = await api.getRegisteredModel(modelName);
  const previousAliasVersion = model?.aliases?.find((a) => a.alias === request.alias)?.version ?? null;
  const previousStageVersions = request.legacyStage ? await versionsInStage(api, modelName, request.legacyStage) : [];
  const byKey = new Map(tags.map((t) => [t.key, t.value]));
  return {
    modelName,
    version,
    verdict: reasons.length ? 'refuse' : verdict,
    checks,
    reasons,
    recorded: {
      parityMeanAbsError: numericTag(byKey, VERSION_TAGS.parityMae),
      cpuP95Ms: numericTag(byKey, VERSION_TAGS.cpuP95Ms),
    },
    sha256: byKey.get(VERSION_TAGS.sha256),
    source: mv.source,
    currentStage: mv.current_stage,
    previousAliasVersion,
    previousStageVersions,
  };
}

/** The versions of `modelName` whose current stage is `stage`, lowest first. */
export async function versionsInStage(api: PromotionRegistryApi, modelName: string, stage: string): Promise<string[]> {
  const all = await api.searchModelVersions(`name='${modelName}'`);
  return all
    .filter((v) => v.current_stage === stage)
    .map((v) => v.version)
    .sort((a, b) => Number(a) - Number(b));
}

/** Points the alias at the version; a no-op when it already points there. */
export async function pointAlias(
  api: PromotionRegistryApi,
  modelName: string,
  alias: string,
  version: string,
): Promise<AliasMove> {
  const model = await api.getRegisteredModel(modelName);
  const previousVersion = model?.aliases?.find((a) => a.alias === alias)?.version ?? null;
  if (previousVersion === version) return { alias, version, previousVersion, changed: false };
  await api.setRegisteredModelAlias(modelName, alias, version);
  return { alias, version, previousVersion, changed: true };
}

/**
 * Moves the version into `stage`, archiving the versions that held it; a no-op when it alone holds
 * the stage already.
 */
export async function moveToStage(
  api: PromotionRegistryApi,
  modelName: string,
  version: string,
  stage: LegacyStage,
): Promise<StageMove> {
  const mv = await api.getModelVersion(modelName, version);
  if (!mv) throw new RegistryInputError('version', `${modelName}/${version}`, 'a registered model version');
  const previousStage = mv.current_stage;
  const others = (await versionsInStage(api, modelName, stage)).filter((v) => v !== version);
  if (previousStage === stage && others.length === 0)
    return { stage, version, previousStage, archived: [], changed: false };
  await api.transitionModelVersionStage(modelName, version, stage, true);
  return { stage, version, previousStage, archived: others, changed: true };
}
