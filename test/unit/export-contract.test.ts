import { describe, expect, it } from 'vitest';
import { exportWorkflowId, followsNameRule, SHA256_RULE, splitS3Uri } from '../../common/export-contract';
import { int8Lines, progressFromStage } from '../../client/export-view';

describe('exportWorkflowId', () => {
  it('is one id per model and run', () => {
    expect(exportWorkflowId('m', 'r')).toBe('export-m-r');
  });
});

describe('sha256 rule and S3 URIs (what storage/ and registry/ each check by)', () => {
  it('a sha256 is 64 lowercase hex characters, nothing else', () => {
    expect(followsNameRule('ab'.repeat(32), SHA256_RULE)).toBe(true);
    for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(32)}0`, 42, undefined])
      expect(followsNameRule(bad, SHA256_RULE), String(bad)).toBe(false);
  });

  it('splits s3://bucket/key, and refuses other schemes, bad bucket names and control characters', () => {
    expect(splitS3Uri('s3://heimdall-models/models/x/')).toEqual({ bucket: 'heimdall-models', key: 'models/x/' });
    expect(splitS3Uri('s3://heimdall-models')).toEqual({ bucket: 'heimdall-models', key: '' });
    for (const bad of ['http://x/y', 's3://A_B/k', 's3://ok-bucket/a\u0001b', 3])
      expect(splitS3Uri(bad), String(bad)).toBeUndefined();
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
