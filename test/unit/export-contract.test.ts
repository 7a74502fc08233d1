import { describe, expect, it } from 'vitest';
import { exportWorkflowId } from '../../common/export-contract';
import { int8Lines, progressFromStage } from '../../client/export-view';

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
    [
      'int8:parity',
      'int8:parity',
      ['emit', 'validate', 'parity', 'benchmark', 'publish', 'register', 'int8:quantize', 'int8:validate'],
      undefined,
    ],
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

describe('int8Lines (the int8 variant in `run --wait` and `result`)', () => {
  it('says nothing for an fp32-only export and names the stage and reason of a failed variant', () => {
    expect(int8Lines(undefined)).toEqual([]);
    expect(
      int8Lines({
        status: 'failed',
        stage: 'int8:parity',
        reason: 'parity failed: MAE 0.03',
        failureType: 'ParityFailed',
      }),
    ).toEqual(['  int8       FAILED at int8:parity: parity failed: MAE 0.03 (fp32 is published regardless)']);
  });
});
