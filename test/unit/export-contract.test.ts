import { describe, expect, it } from 'vitest';
import { exportWorkflowId, requestProblems, type ExportRequest } from '../../common/export-contract';
import { progressFromStage } from '../../client/export-view';

const ok: ExportRequest = {
  checkpointUri: 's3://heimdall-checkpoints/bundles/abc/',
  modelName: 'heimdall-localization-onnx',
  runId: 'run-1',
};

describe('requestProblems', () => {
  it('accepts a complete request and a minimal one', () => {
    expect(requestProblems(ok)).toEqual([]);
    expect(requestProblems({ checkpointUri: 's3://b/p/' })).toEqual([]);
  });

  it.each([
    ['checkpointUri', { checkpointUri: '/local/dir' }],
    ['modelName', { modelName: '../x' }],
    ['modelName', { modelName: 'team/model' }],
    ['modelName', { modelName: 'a\u0007b' }],
    ['modelName', { modelName: 'a..b' }],
    ['runId', { runId: 'run id with spaces' }],
    ['opset', { opset: 13 }],
    ['opset', { opset: 17.5 }],
    ['parity.mae', { parity: { mae: -1 } }],
    ['benchmark.batchSizes', { benchmark: { batchSizes: [] } }],
    ['benchmark.batchSizes', { benchmark: { batchSizes: [0] } }],
  ] as const)('names the field %s', (field, patch) => {
    const problems = requestProblems({ ...ok, ...patch } as ExportRequest);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${field.replace('.', '\\.')}: expected`));
  });

  it('lists every problem, not just the first', () => {
    expect(requestProblems({ checkpointUri: 'x', modelName: '../x', opset: 99 })).toHaveLength(3);
  });
});

describe('exportWorkflowId', () => {
  it('is one id per model and run', () => {
    expect(exportWorkflowId('m', 'r')).toBe('export-m-r');
  });
});

describe('progressFromStage (the ExportStage search attribute, when no worker answers the query)', () => {
  it.each([
    ['done', 'done', ['emit', 'validate', 'parity', 'benchmark', 'publish', 'register'], undefined],
    ['parity', 'parity', ['emit', 'validate'], undefined],
    ['failed:publish', 'publish', ['emit', 'validate', 'parity', 'benchmark'], 'failed at publish'],
    ['failed', 'failed', [], 'failed at the request check'],
    ['queued', 'queued', [], undefined],
  ] as const)('%s', (value, stage, completed, failure) => {
    const p = progressFromStage(value);
    expect(p?.stage).toBe(stage);
    expect(p?.completedStages).toEqual(completed);
    expect(p?.failure).toBe(failure);
  });

  it('knows nothing without the attribute', () => {
    expect(progressFromStage(undefined)).toBeUndefined();
  });
});
