/** `benchmark.dims` in the export request: sizes of symbolic dimensions by name, checked like every field. */
import { describe, expect, it } from 'vitest';
import { checkExportRequest, exportRequestJsonSchema } from '../../common/export-request';

const base = { checkpointUri: 's3://heimdall-checkpoints/bundles/abc/' };

function problemsOf(request: unknown): string[] {
  const checked = checkExportRequest(request);
  return checked.ok ? [] : checked.problems;
}

describe('benchmark.dims', () => {
  it('accepts sizes by dimension name, as graphs spell them', () => {
    const request = { ...base, benchmark: { dims: { receivers: 7, seq_len: 10000, s0: 1, 'Add_dim:1': 3 } } };
    expect(checkExportRequest(request)).toEqual({ ok: true, request });
  });

  it.each([
    ['benchmark.dims.receivers', { receivers: 0 }, '0'],
    ['benchmark.dims.seq_len', { seq_len: 2.5 }, '2.5'],
    ['benchmark.dims.seq_len', { seq_len: '1024' }, '"1024"'],
    ['benchmark.dims.bad name', { 'bad name': 7 }, '"bad name"'],
    ['benchmark.dims', [7], '[7]'],
    ['benchmark.dims', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`d${i}`, 1])), '"d0":1'],
  ] as const)('refuses %s = %j, naming the field and what was sent', (field, dims, shown) => {
    const problems = problemsOf({ ...base, benchmark: { dims } });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(`${field}: expected `)).toBe(true);
    expect(problems[0]).toContain(shown);
  });

  it('is in the JSON Schema other SDKs validate against: names by pattern, sizes by range, at most 16', () => {
    const benchmark = (exportRequestJsonSchema().properties as Record<string, { properties: Record<string, unknown> }>)
      .benchmark;
    expect(benchmark?.properties.dims).toMatchObject({
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9_.:-]{1,100}$' },
      additionalProperties: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      maxProperties: 16,
    });
  });
});
