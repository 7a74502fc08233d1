import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkExportRequest,
  durationMs,
  exportRequestJsonSchema,
  type ExportRequest,
} from '../../common/export-request';
import { closestKey } from '../../common/request-check';
import { EXPORT_REQUEST_SCHEMA_PATH, renderExportRequestSchema } from '../../tools/write-request-schema';

const ok: ExportRequest = {
  checkpointUri: 's3://heimdall-checkpoints/bundles/abc/',
  modelName: 'heimdall-localization-onnx',
  runId: 'run-1',
};

function problemsOf(request: unknown): string[] {
  const checked = checkExportRequest(request);
  return checked.ok ? [] : checked.problems;
}

describe('checkExportRequest', () => {
  it('accepts a complete request and a minimal one, returning the same fields', () => {
    const full: ExportRequest = {
      ...ok,
      opset: 20,
      parity: { mae: 1e-4, maxAbs: 1e-3 },
      benchmark: { batchSizes: [1, 8], threads: 2, maxRuns: 50, timeBudgetMs: 5000, gpu: true },
      alias: '',
      description: 'nightly',
    };
    expect(checkExportRequest(full)).toEqual({ ok: true, request: full });
    expect(checkExportRequest({ checkpointUri: 's3://bkt/p/' })).toEqual({
      ok: true,
      request: { checkpointUri: 's3://bkt/p/' },
    });
    for (const wait of ['30 seconds', '10m', '1 hour', '1500ms', '2.5 minutes'])
      expect(problemsOf({ ...ok, benchmark: { gpuScheduleToStartTimeout: wait } })).toEqual([]);
  });

  // The cases another SDK's caller sent straight to Temporal (issue 12), and more.
  it.each([
    ['benchmark.gpuScheduleToStartTimeout', { benchmark: { gpuScheduleToStartTimeout: 'banana' } }, 'banana'],
    ['benchmark.gpuScheduleToStartTimeout', { benchmark: { gpuScheduleToStartTimeout: '0s' } }, '0s'],
    ['benchmark.gpuScheduleToStartTimeout', { benchmark: { gpuScheduleToStartTimeout: '3 days' } }, '3 days'],
    ['benchmark.gpuScheduleToStartTimeout', { benchmark: { gpuScheduleToStartTimeout: 600 } }, '600'],
    ['alias', { alias: 42 }, '42'],
    ['alias', { alias: 'latest' }, 'latest'],
    ['alias', { alias: 'v3' }, 'v3'],
    ['alias', { alias: 'prod/eu' }, 'prod/eu'],
    ['benchmark.gpu', { benchmark: { gpu: 'yes' } }, 'yes'],
    ['benchmark', { benchmark: [1, 32] }, '[1,32]'],
    ['parity', { parity: 'strict' }, 'strict'],
    ['parity.mae', { parity: { mae: -1 } }, '-1'],
    ['parity.maxAbs', { parity: { maxAbs: 0 } }, '0'],
    ['benchmark.threads', { benchmark: { threads: -1 } }, '-1'],
    ['benchmark.maxRuns', { benchmark: { maxRuns: 0 } }, '0'],
    ['benchmark.timeBudgetMs', { benchmark: { timeBudgetMs: -5 } }, '-5'],
    ['benchmark.batchSizes', { benchmark: { batchSizes: [] } }, '[]'],
    ['benchmark.batchSizes.0', { benchmark: { batchSizes: [0] } }, '0'],
    ['benchmark.batchSizes.1', { benchmark: { batchSizes: [1, 2.5] } }, '2.5'],
    ['checkpointUri', { checkpointUri: '/local/dir' }, '/local/dir'],
    ['checkpointUri', { checkpointUri: 7 }, '7'],
    ['modelName', { modelName: '../x' }, '../x'],
    ['modelName', { modelName: 'team/model' }, 'team/model'],
    ['modelName', { modelName: 'a\u0007b' }, 'a\\u0007b'],
    ['modelName', { modelName: 'a..b' }, 'a..b'],
    ['modelName', { modelName: 'm'.repeat(101) }, 'mmm'],
    ['runId', { runId: 'run id with spaces' }, 'run id'],
    ['runId', { runId: '' }, '""'],
    ['opset', { opset: 13 }, '13'],
    ['opset', { opset: 17.5 }, '17.5'],
    ['opset', { opset: '17' }, '"17"'],
    ['description', { description: 'x'.repeat(5001) }, 'xxx'],
  ] as const)('refuses %s = %j, naming the field and what was sent', (field, patch, shown) => {
    const problems = problemsOf({ ...ok, ...patch });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(`${field}: expected `)).toBe(true);
    expect(problems[0]).toContain(`got `);
    expect(problems[0]).toContain(shown);
  });

  it('refuses unknown fields, naming the closest known one', () => {
    expect(problemsOf({ ...ok, opset_version: 17 })).toEqual(['opset_version: unknown field; did you mean opset?']);
    expect(problemsOf({ ...ok, benchmark: { batch_sizes: [1] } })).toEqual([
      'benchmark.batch_sizes: unknown field; did you mean batchSizes?',
    ]);
    expect(problemsOf({ ...ok, parity: { mea: 1e-5 } })).toEqual(['parity.mea: unknown field; did you mean mae?']);
    expect(problemsOf({ ...ok, model_name: 'm' })).toEqual(['model_name: unknown field; did you mean modelName?']);
    expect(problemsOf({ ...ok, zzzzzzzz: 1 })[0]).toMatch(/^zzzzzzzz: unknown field; known fields are checkpointUri, /);
  });

  it('refuses what is not a request object at all', () => {
    for (const raw of [undefined, null, 42, 'x', [ok]])
      expect(problemsOf(raw)[0]).toMatch(/^request: expected an export request object, got /);
    expect(problemsOf({})).toEqual(['checkpointUri: expected s3://bucket/prefix/ of a checkpoint bundle, got nothing']);
  });

  it('lists every problem once, not just the first', () => {
    const problems = problemsOf({
      checkpointUri: 'x',
      modelName: '../x',
      opset: 99,
      benchmark: { gpuScheduleToStartTimeout: 'banana' },
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'checkpointUri',
      'modelName',
      'opset',
      'benchmark.gpuScheduleToStartTimeout',
    ]);
  });
});

describe('durationMs and closestKey', () => {
  it('reads the duration forms the schema allows', () => {
    expect(durationMs('30 seconds')).toBe(30_000);
    expect(durationMs('10m')).toBe(600_000);
    expect(durationMs('1500ms')).toBe(1500);
    expect(durationMs('2 hours')).toBe(7_200_000);
    expect(durationMs('ten minutes')).toBeUndefined();
  });

  it('finds no suggestion where nothing is close', () => {
    expect(closestKey('opset_version', ['opset', 'runId'])).toBe('opset');
    expect(closestKey('colour', ['opset', 'runId'])).toBeUndefined();
  });
});

describe('docs/export-request.schema.json', () => {
  it('is the schema generated from common/export-request.ts (run `npm run schema` after changing it)', () => {
    const committed = readFileSync(join(__dirname, '..', '..', EXPORT_REQUEST_SCHEMA_PATH), 'utf8');
    expect(committed).toBe(renderExportRequestSchema());
  });

  it('forbids unknown fields at every level and requires only checkpointUri', () => {
    const schema = exportRequestJsonSchema() as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, { additionalProperties?: boolean }>;
    };
    expect(schema.required).toEqual(['checkpointUri']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.benchmark?.additionalProperties).toBe(false);
    expect(schema.properties.parity?.additionalProperties).toBe(false);
  });
});
