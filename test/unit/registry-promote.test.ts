/** Unit tests of registry/promote-version.ts: gate verdicts, missing tags, bad input, idempotent moves (a fake registry). */
import { checkPromoteRequest } from '../../common/promotion';
import { describe, expect, it } from 'vitest';
import type { ModelVersion, RegisteredModel } from '../../registry/mlflow-client';
import {
  checkPromotion,
  evaluateGates,
  moveToStage,
  pointAlias,
  validatePromoteRequest,
  type PromotionRegistryApi,
} from '../../registry/promote-version';
import { RegistryInputError } from '../../registry/registry-error';

const tags = (t: Record<string, string>) => Object.entries(t).map(([key, value]) => ({ key, value }));
const RECORDED = tags({ parity_mean_abs_error: '2e-7', cpu_p95_ms: '12.5', onnx_sha256: 'ab'.repeat(32) });

describe('evaluateGates', () => {
  it.each([
    { gates: {}, verdict: 'pass', checks: 0 },
    { gates: { maxMae: 1e-5 }, verdict: 'pass', checks: 1 },
    { gates: { maxMae: 2e-7, maxP95Ms: 12.5 }, verdict: 'pass', checks: 2 }, // equal to the limit passes
    { gates: { maxMae: 1e-12 }, verdict: 'refuse', checks: 1 },
    { gates: { maxP95Ms: 10 }, verdict: 'refuse', checks: 1 },
    { gates: { maxMae: 1e-5, maxP95Ms: 10 }, verdict: 'refuse', checks: 2 },
  ] as const)('$gates → $verdict', ({ gates, verdict, checks }) => {
    const out = evaluateGates(gates, RECORDED);
    expect(out.verdict).toBe(verdict);
    expect(out.checks).toHaveLength(checks);
    expect(out.reasons.length > 0).toBe(verdict === 'refuse');
  });

  it('a refusal names the gate, the tag and both values', () => {
    const out = evaluateGates({ maxMae: 1e-12, maxP95Ms: 100 }, RECORDED);
    expect(out.reasons).toEqual(["--max-mae 1e-12: tag 'parity_mean_abs_error' records 2e-7, above the limit 1e-12"]);
    expect(out.checks).toEqual([
      expect.objectContaining({ gate: 'maxMae', limit: 1e-12, recorded: 2e-7, passed: false }),
      expect.objectContaining({ gate: 'maxP95Ms', limit: 100, recorded: 12.5, passed: true }),
    ]);
  });

  it('a gate whose tag is missing refuses and says the tag is missing', () => {
    const out = evaluateGates({ maxP95Ms: 1000 }, tags({ parity_mean_abs_error: '1e-7' }));
    expect(out.verdict).toBe('refuse');
    expect(out.reasons[0]).toMatch(/--max-p95-ms 1000: .*'cpu_p95_ms'.*tag missing/);
    expect(out.checks[0]).toMatchObject({ recorded: undefined, passed: false });
  });

  it('a missing tag with no gate on it does not refuse', () => {
    expect(evaluateGates({ maxMae: 1 }, tags({ parity_mean_abs_error: '0.5' })).verdict).toBe('pass');
  });

  it.each(['abc', '', 'NaN', 'Infinity'])('a tag that is not a finite number (%j) refuses', (value) => {
    const out = evaluateGates({ maxMae: 1 }, tags({ parity_mean_abs_error: value }));
    expect(out.verdict).toBe('refuse');
    expect(out.reasons[0]).toContain('not a number');
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('a gate limit of %s is bad input', (maxMae) => {
    expect(() => evaluateGates({ maxMae }, RECORDED)).toThrow(RegistryInputError);
  });
});

describe('checkPromoteRequest (what the workflow checks first)', () => {
  it('names an unknown gate with the closest known one', () => {
    const checked = checkPromoteRequest({ modelName: 'm', version: '1', alias: 'production', gates: { maxP95: 3 } });
    expect(checked.ok ? [] : checked.problems.map((p) => p.text)).toEqual([
      'gates.maxP95: unknown field; did you mean maxP95Ms?',
    ]);
  });
});

describe('validatePromoteRequest', () => {
  const ok = { modelName: 'heimdall-localization-onnx', version: '3', alias: 'production' };
  it('accepts a request with a stage and gates', () => {
    const req = { ...ok, legacyStage: 'Production', gates: { maxMae: 1e-5, maxP95Ms: 50 } };
    expect(validatePromoteRequest(req)).toEqual(req);
  });
  it.each([
    [{ ...ok, version: '0' }, 'version'],
    [{ ...ok, version: 'v3' }, 'version'],
    [{ ...ok, alias: 'latest' }, 'alias'],
    [{ ...ok, alias: 'v2' }, 'alias'],
    [{ ...ok, alias: 'has space' }, 'alias'],
    [{ ...ok, modelName: '../x' }, 'modelName'],
    [{ ...ok, legacyStage: 'production' }, 'legacyStage'],
    [{ ...ok, legacyStage: 'Archived' }, 'legacyStage'],
    [{ ...ok, gates: { maxMae: -1 } }, 'gates.maxMae'],
    [{ ...ok, gates: { maxP95: 3 } }, 'gates.maxP95'],
  ])('%j is refused, naming %s', (req, field) => {
    let caught: unknown;
    try {
      validatePromoteRequest(req);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RegistryInputError);
    expect((caught as RegistryInputError).field).toBe(field);
  });
});

/** An in-memory registry with MLflow's stage and alias semantics. */
class FakeRegistry implements PromotionRegistryApi {
  versions = new Map<string, ModelVersion>();
  aliases = new Map<string, string>();
  writes: string[] = [];
  constructor(readonly name: string) {}
  add(version: string, t: { key: string; value: string }[], stage = 'None'): void {
    this.versions.set(version, { name: this.name, version, tags: t, current_stage: stage, status: 'READY' });
  }
  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    if (name !== this.name) return undefined;
    return { name, aliases: [...this.aliases].map(([alias, version]) => ({ alias, version })) };
  }
  async getModelVersion(name: string, version: string) {
    return name === this.name ? this.versions.get(version) : undefined;
  }
  async searchModelVersions(filter: string) {
    expect(filter).toBe(`name='${this.name}'`);
    return [...this.versions.values()];
  }
  async setRegisteredModelAlias(_name: string, alias: string, version: string) {
    this.writes.push(`alias ${alias}=${version}`);
    this.aliases.set(alias, version);
  }
  async transitionModelVersionStage(_name: string, version: string, stage: string, archive: boolean) {
    this.writes.push(`stage ${version}=${stage}`);
    if (archive) for (const v of this.versions.values()) if (v.current_stage === stage) v.current_stage = 'Archived';
    const mv = this.versions.get(version) as ModelVersion;
    mv.current_stage = stage;
    return mv;
  }
}

describe('checkPromotion and the moves', () => {
  const request = { modelName: 'm', version: '2', alias: 'production', legacyStage: 'Production' as const };

  it('reports recorded values and the previous holders, and writes nothing', async () => {
    const reg = new FakeRegistry('m');
    reg.add('1', RECORDED, 'Production');
    reg.add('2', RECORDED);
    reg.aliases.set('production', '1');
    const check = await checkPromotion(reg, { ...request, gates: { maxMae: 1e-12 } });
    expect(check).toMatchObject({
      verdict: 'refuse',
      recorded: { parityMeanAbsError: 2e-7, cpuP95Ms: 12.5 },
      previousAliasVersion: '1',
      previousStageVersions: ['1'],
      currentStage: 'None',
    });
    expect(reg.writes).toEqual([]);
  });

  it('an unknown version is bad input', async () => {
    const reg = new FakeRegistry('m');
    await expect(checkPromotion(reg, request)).rejects.toThrow(RegistryInputError);
  });

  it('a version that is not READY is refused', async () => {
    const reg = new FakeRegistry('m');
    reg.add('2', RECORDED);
    (reg.versions.get('2') as ModelVersion).status = 'PENDING_REGISTRATION';
    const check = await checkPromotion(reg, request);
    expect(check.verdict).toBe('refuse');
    expect(check.reasons[0]).toContain('PENDING_REGISTRATION');
  });

  it('moves archive the previous holder, and repeating them is a no-op; promoting v1 again rolls back', async () => {
    const reg = new FakeRegistry('m');
    reg.add('1', RECORDED, 'Production');
    reg.add('2', RECORDED);
    reg.aliases.set('production', '1');
    expect(await pointAlias(reg, 'm', 'production', '2')).toEqual({
      alias: 'production',
      version: '2',
      previousVersion: '1',
      changed: true,
    });
    expect(await moveToStage(reg, 'm', '2', 'Production')).toMatchObject({ archived: ['1'], changed: true });
    expect(reg.versions.get('1')?.current_stage).toBe('Archived');
    const writes = reg.writes.length;
    expect((await pointAlias(reg, 'm', 'production', '2')).changed).toBe(false);
    expect((await moveToStage(reg, 'm', '2', 'Production')).changed).toBe(false);
    expect(reg.writes).toHaveLength(writes);

    expect((await pointAlias(reg, 'm', 'production', '1')).previousVersion).toBe('2');
    expect(await moveToStage(reg, 'm', '1', 'Production')).toMatchObject({
      previousStage: 'Archived',
      archived: ['2'],
    });
    expect(reg.aliases.get('production')).toBe('1');
    expect(reg.versions.get('2')?.current_stage).toBe('Archived');
  });
});
