/**
 * The request's variant fields (issue 14): `variants` (fp32 alone by default; int8 only with fp32),
 * `int8` settings (parity tolerances, calibration method) and the model-name room the int8 variant's
 * `<modelName>-int8` needs. Every refusal names its field and says what was expected.
 */
import { describe, expect, it } from 'vitest';
import {
  CALIBRATION_METHODS,
  DEFAULT_INT8_TOLERANCES,
  MODEL_NAME_RULE,
  variantModelName,
} from '../../common/export-contract';
import {
  checkExportRequest,
  exportRequestJsonSchema,
  MAX_INT8_MODEL_NAME_LENGTH,
  type ExportRequest,
} from '../../common/export-request';

const ok: ExportRequest = { checkpointUri: 's3://heimdall-checkpoints/bundles/abc/', modelName: 'heimdall' };

function problemsOf(request: unknown): string[] {
  const checked = checkExportRequest(request);
  return checked.ok ? [] : checked.problems;
}

describe('checkExportRequest: variants', () => {
  it('accepts no variants (fp32 alone), ["fp32"] and ["fp32", "int8"] in either order, unchanged', () => {
    for (const variants of [undefined, ['fp32'], ['fp32', 'int8'], ['int8', 'fp32']] as const) {
      const request = { ...ok, ...(variants ? { variants: [...variants] } : {}) } as ExportRequest;
      expect(checkExportRequest(request)).toEqual({ ok: true, request });
    }
  });

  it.each([
    ['int8 without fp32', ['int8'], '["int8"]'],
    ['a duplicate', ['fp32', 'fp32'], '["fp32","fp32"]'],
    ['an empty list', [], '[]'],
    ['a single string', 'fp32', '"fp32"'],
    ['three entries', ['fp32', 'int8', 'int8'], '["fp32","int8","int8"]'],
  ])('refuses %s, naming `variants` and what it expects', (_what, variants, shown) => {
    const problems = problemsOf({ ...ok, variants });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^variants: expected a list of distinct variants from fp32, int8 that includes fp32/);
    expect(problems[0]).toContain('["fp32", "int8"]');
    expect(problems[0]).toContain(`got ${shown}`);
  });

  it('refuses an unknown variant, naming its place in `variants`', () => {
    const problems = problemsOf({ ...ok, variants: ['fp32', 'int4'] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^variants\.1: expected a list of distinct variants from fp32, int8/);
    expect(problems[0]).toContain('got "int4"');
  });
});

describe('checkExportRequest: int8 settings', () => {
  const int8 = { ...ok, variants: ['fp32', 'int8'] } as ExportRequest;

  it('accepts int8 parity tolerances and each calibration method', () => {
    for (const calibration of CALIBRATION_METHODS) {
      const request: ExportRequest = { ...int8, int8: { parity: { mae: 1e-9, maxAbs: 0.5 }, calibration } };
      expect(checkExportRequest(request)).toEqual({ ok: true, request });
    }
  });

  it.each([
    ['int8.calibration', { calibration: 'kl' }, '"kl"', 'one of minmax, percentile, entropy'],
    ['int8.parity.mae', { parity: { mae: 0 } }, '0', 'mean absolute error: a positive number at most 1'],
    ['int8.parity.maxAbs', { parity: { maxAbs: 2 } }, '2', 'largest absolute error: a positive number at most 1'],
    ['int8', { parity: 'loose' }, '', 'an object of parity tolerances'],
    ['int8.maxFloatFraction', { maxFloatFraction: 1.5 }, '1.5', 'a number from 0 to 1 (0: no node kept float)'],
    ['int8.maxFloatFraction', { maxFloatFraction: -0.1 }, '-0.1', 'a number from 0 to 1 (0: no node kept float)'],
    ['int8.maxFloatFraction', { maxFloatFraction: '0.2' }, '"0.2"', 'a number from 0 to 1 (0: no node kept float)'],
  ])('refuses %s = %j, naming the field', (field, settings, shown, expected) => {
    const problems = problemsOf({ ...int8, int8: settings });
    expect(problems).toHaveLength(1);
    const named = field === 'int8' ? 'int8.parity' : field;
    expect(problems[0]?.startsWith(`${named}: expected ${expected}`)).toBe(true);
    expect(problems[0]).toContain(`got ${shown}`);
  });

  it('accepts int8.maxFloatFraction from 0 (no fallback) to 1', () => {
    for (const maxFloatFraction of [0, 0.05, 0.2, 1]) {
      const request: ExportRequest = { ...int8, int8: { maxFloatFraction } };
      expect(checkExportRequest(request)).toEqual({ ok: true, request });
    }
  });

  it('names the closest known field for a misspelt int8 setting', () => {
    expect(problemsOf({ ...int8, int8: { calibraton: 'minmax' } })).toEqual([
      'int8.calibraton: unknown field; did you mean calibration?',
    ]);
  });

  it('refuses int8 settings when the request does not ask for the int8 variant', () => {
    for (const variants of [undefined, ['fp32']]) {
      const problems = problemsOf({ ...ok, ...(variants ? { variants } : {}), int8: { calibration: 'minmax' } });
      expect(problems).toEqual([
        'int8: expected int8 settings only when variants includes "int8" (set variants to ["fp32", "int8"]), got {"calibration":"minmax"}',
      ]);
    }
  });
});

describe('checkExportRequest: model name room for -int8', () => {
  it('leaves exactly the length of "-int8" under the model name rule', () => {
    expect(MAX_INT8_MODEL_NAME_LENGTH).toBe(MODEL_NAME_RULE.maxLength - '-int8'.length);
    expect(variantModelName('m'.repeat(MAX_INT8_MODEL_NAME_LENGTH), 'int8')).toHaveLength(MODEL_NAME_RULE.maxLength);
    expect(variantModelName('m', 'fp32')).toBe('m');
  });

  it('accepts the longest name with int8, and a longer one with fp32 alone', () => {
    const longest = 'm'.repeat(MAX_INT8_MODEL_NAME_LENGTH);
    expect(problemsOf({ ...ok, modelName: longest, variants: ['fp32', 'int8'] })).toEqual([]);
    expect(problemsOf({ ...ok, modelName: `${longest}m`, variants: ['fp32'] })).toEqual([]);
  });

  it('refuses a model name too long for <modelName>-int8 when int8 is requested, naming modelName', () => {
    const problems = problemsOf({
      ...ok,
      modelName: 'm'.repeat(MAX_INT8_MODEL_NAME_LENGTH + 1),
      variants: ['fp32', 'int8'],
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^modelName: expected at most 95 characters when variants includes "int8" \(its versions are registered as <modelName>-int8/,
    );
  });
});

describe('docs/export-request.schema.json: variants', () => {
  it('describes variants as distinct known names containing fp32, and int8 settings without unknown fields', () => {
    const schema = exportRequestJsonSchema() as {
      properties: Record<string, Record<string, unknown> & { properties?: Record<string, Record<string, unknown>> }>;
    };
    expect(schema.properties.variants).toMatchObject({
      type: 'array',
      items: { enum: ['fp32', 'int8'] },
      uniqueItems: true,
      contains: { const: 'fp32' },
      minItems: 1,
      maxItems: 2,
      default: ['fp32'],
    });
    expect(schema.properties.int8).toMatchObject({ additionalProperties: false });
    expect(schema.properties.int8?.properties?.calibration).toMatchObject({ enum: [...CALIBRATION_METHODS] });
    expect(String(schema.properties.int8?.properties?.parity?.description)).toContain(
      `default mae ${DEFAULT_INT8_TOLERANCES.mae}, maxAbs ${DEFAULT_INT8_TOLERANCES.maxAbs}`,
    );
  });
});
