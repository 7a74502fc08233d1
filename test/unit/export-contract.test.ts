import { describe, expect, it } from 'vitest';
import { exportWorkflowId } from '../../common/export-contract';
import { progressFromStage } from '../../client/export-view';

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
