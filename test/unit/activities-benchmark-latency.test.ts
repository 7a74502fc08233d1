/** activities/benchmark-latency: heartbeats, the test-only CPU-for-CUDA flag, model resolution; activities/failures: benchmark error mapping. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuOnlyHost } from './bench-session-openers';
import { createBenchmarkLatencyActivity } from '../../activities/benchmark-latency';
import { toActivityFailure } from '../../activities/failures';
import type { BenchmarkActivityInput } from '../../activities/benchmark-latency';
import type { LatencyReport } from '../../bench/report-types';
import { BenchmarkError } from '../../bench/bench-error';
import { makeProbeModel } from '../../bench/probe-model';

const QUICK = { batchSizes: [1], maxRuns: 6, minRuns: 3, timeBudgetMs: 20, threads: 1 };
/** Expected failures are asserted below; the SDK's failure log would only repeat them. */
const quiet = { logger: new DefaultLogger('ERROR') };
const mockEnv = (info: { taskQueue?: string } = {}) => new MockActivityEnvironment(info, quiet);
/** MockActivityEnvironment.run does not infer the result type from the function. */
const run = (
  env: MockActivityEnvironment,
  fn: (input: BenchmarkActivityInput) => Promise<LatencyReport>,
  input: BenchmarkActivityInput,
) => env.run(fn, input) as Promise<LatencyReport>;
let dir: string;
let modelPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bench-activity-'));
  modelPath = join(dir, 'probe.onnx');
  writeFileSync(modelPath, (await makeProbeModel({ width: 8 })).bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('benchmarkLatency activity', () => {
  it('benchmarks a file:// model, heartbeats progress and says where it ran', async () => {
    const env = mockEnv({ taskQueue: 'bench-q' });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const { benchmarkLatency } = createBenchmarkLatencyActivity();
    const report = await run(env, benchmarkLatency, {
      model: { uri: pathToFileURL(modelPath).href, label: 'probe' },
      executionProvider: 'cpu',
      ...QUICK,
    });
    expect(report.model.label).toBe('probe');
    expect(report.ranOn?.taskQueue).toBe('bench-q');
    expect(beats.length).toBeGreaterThan(0);
    expect(beats).toContainEqual(expect.objectContaining({ phase: 'done' }));
  });

  it('runs a cuda request on the CPU only with the test-only flag, and says so in the report', async () => {
    const { benchmarkLatency } = createBenchmarkLatencyActivity({ gpuQueueUsesCpuForTests: true });
    const report = await run(mockEnv(), benchmarkLatency, {
      model: { uri: modelPath },
      executionProvider: 'cuda',
      ...QUICK,
    });
    expect(report.settings.requestedExecutionProvider).toBe('cuda');
    expect(report.settings.executionProvider).toBe('cpu');
    expect(report.settings.testOnlyNote).toMatch(/gpuQueueUsesCpuForTests/);
  });

  it('without the flag a cuda request on a host without CUDA fails as a retryable provider failure', async () => {
    const { benchmarkLatency } = createBenchmarkLatencyActivity({ openSession: cpuOnlyHost });
    const err = await run(mockEnv(), benchmarkLatency, {
      model: { uri: modelPath },
      executionProvider: 'cuda',
      ...QUICK,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('BenchmarkProviderUnavailable');
    expect((err as ApplicationFailure).nonRetryable).toBe(false);
  });

  it('fails non-retryably on a sha256 mismatch and on a URI it cannot resolve', async () => {
    const { benchmarkLatency } = createBenchmarkLatencyActivity();
    const env = mockEnv();
    const mismatch = await run(env, benchmarkLatency, {
      model: { uri: modelPath, sha256: '0'.repeat(64) },
      executionProvider: 'cpu',
      ...QUICK,
    }).catch((e: unknown) => e);
    expect(mismatch).toMatchObject({ type: 'BenchmarkModelMismatch', nonRetryable: true });
    const s3 = await run(env, benchmarkLatency, {
      model: { uri: 's3://bucket/staging/x/model.onnx' },
      executionProvider: 'cpu',
      ...QUICK,
    }).catch((e: unknown) => e);
    expect(s3).toMatchObject({ type: 'BenchmarkModelUnresolvable', nonRetryable: true });
  });

  it('uses an injected resolver for non-local URIs', async () => {
    const { benchmarkLatency } = createBenchmarkLatencyActivity({ resolveModelPath: async () => modelPath });
    const report = await run(mockEnv(), benchmarkLatency, {
      model: { uri: 's3://b/k' },
      executionProvider: 'cpu',
      ...QUICK,
    });
    expect(report.model.path).toBe(modelPath);
  });
});

describe('error mapping', () => {
  it.each([
    ['model-invalid', 'BenchmarkModelInvalid', true],
    ['input-unsupported', 'BenchmarkInputUnsupported', true],
    ['bad-options', 'BenchmarkBadOptions', true],
    ['run-failed', 'BenchmarkRunFailed', false],
    ['provider-unavailable', 'BenchmarkProviderUnavailable', false],
  ] as const)('%s → %s (non-retryable: %s)', (kind, type, nonRetryable) => {
    const f = toActivityFailure(new BenchmarkError('x', { kind, model: 'm' }));
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f).toMatchObject({ type, nonRetryable });
  });

  it('maps an abort to a cancellation and passes other errors through', () => {
    expect(toActivityFailure(new BenchmarkError('x', { kind: 'aborted' }))).toBeInstanceOf(CancelledFailure);
    const plain = new Error('plain');
    expect(toActivityFailure(plain)).toBe(plain);
  });
});
