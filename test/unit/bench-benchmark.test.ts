/**
 * bench/latency-benchmark with real onnxruntime-node on the hand-encoded probe model: the report's
 * structure, the interleaving, the session options and the typed errors. No timing is asserted:
 * the numbers are what the benchmark measures, not what a test expects.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuOnlyHost } from './bench-session-openers';
import { BenchmarkError } from '../../bench/bench-error';
import {
  medianPreciseEnough,
  benchmarkModel,
  compareModels,
  sessionOptions,
  warmupWindowRuns,
} from '../../bench/latency-benchmark';
import { concreteShape, randomFeeds } from '../../bench/model-inputs';
import { makeProbeModel } from '../../bench/probe-model';
import type { BenchmarkProgress } from '../../bench/report-types';

/** Keeps each benchmark to a fraction of a second: structure, not statistics, is under test. */
const QUICK = { maxRuns: 12, minRuns: 4, timeBudgetMs: 50, warmupMaxMs: 50, warmupMinMs: 0, threads: 1 } as const;

let dir: string;
let modelPath: string;
let fixedBatchPath: string;
let modelBytes: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bench-unit-'));
  modelBytes = (await makeProbeModel({ width: 16, layers: 2 })).bytes;
  modelPath = join(dir, 'probe.onnx');
  writeFileSync(modelPath, modelBytes);
  fixedBatchPath = join(dir, 'fixed.onnx');
  writeFileSync(fixedBatchPath, (await makeProbeModel({ width: 16, batchDim: 1 })).bytes);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectBenchmarkError(promise: Promise<unknown>, kind: string): Promise<BenchmarkError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BenchmarkError);
  expect((err as BenchmarkError).context.kind).toBe(kind);
  return err as BenchmarkError;
}

describe('benchmarkModel', () => {
  it('reports every batch size with ordered percentiles, throughput, memory, host and settings', async () => {
    const events: BenchmarkProgress[] = [];
    const r = await benchmarkModel(
      { path: modelPath, label: 'probe' },
      { ...QUICK, batchSizes: [1, 8], onProgress: (p) => events.push(p) },
    );
    expect(r.kind).toBe('latency');
    expect(r.model).toMatchObject({ label: 'probe', bytes: modelBytes.length, inputName: 'x', outputNames: ['y'] });
    expect(r.model.sha256).toBe(createHash('sha256').update(modelBytes).digest('hex'));
    expect(r.settings).toMatchObject({
      executionProvider: 'cpu',
      requestedExecutionProvider: 'cpu',
      intraOpThreads: 1,
      // One model alone: onnxruntime's default, as the inference service opens it.
      allowSpinning: true,
      graphOptimizationLevel: 'all',
    });
    expect(r.host.onnxruntimeVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.host.logicalCores).toBeGreaterThan(0);
    expect(r.batches.map((b) => b.batchSize)).toEqual([1, 8]);
    for (const b of r.batches) {
      const s = b.stats;
      expect(s.count).toBeGreaterThanOrEqual(QUICK.minRuns);
      expect(s.count).toBeLessThanOrEqual(QUICK.maxRuns);
      expect(b.samplesMs).toHaveLength(s.count);
      expect([s.min, s.p50, s.p90, s.p99, s.max]).toEqual(
        [...[s.min, s.p50, s.p90, s.p99, s.max]].sort((x, y) => x - y),
      );
      expect(b.throughputPerSecond).toBeGreaterThan(0);
      expect(b.firstRunMs).toBeGreaterThan(0);
      expect(b.peakRssBytes).toBeGreaterThan(1 << 20);
      expect(b.warmup.runs).toBeGreaterThanOrEqual(1);
    }
    expect(r.sessionCreationMs).toBeGreaterThan(0);
    expect(events.map((e) => e.phase)).toEqual(expect.arrayContaining(['session', 'warmup', 'measure', 'done']));
  });

  it('warms up for at least two windows before it calls latency stable', async () => {
    const r = await benchmarkModel(
      { path: modelPath },
      { ...QUICK, batchSizes: [1], warmupMaxMs: 5_000, warmupMaxRuns: 500 },
    );
    const w = r.batches[0]?.warmup;
    expect(w?.runs).toBeGreaterThanOrEqual(6);
    if (w?.stable) expect(w.lastWindowChange).toBeGreaterThanOrEqual(0);
  });

  it('fails with typed errors for a missing file, a fixed batch, an unavailable provider, bad options and cancellation', async () => {
    await expectBenchmarkError(benchmarkModel({ path: join(dir, 'missing.onnx') }, QUICK), 'model-invalid');
    const fixed = await expectBenchmarkError(
      benchmarkModel({ path: fixedBatchPath }, { ...QUICK, batchSizes: [4] }),
      'input-unsupported',
    );
    expect(fixed.message).toMatch(/fixed batch dimension 1; batch size 4/);
    await expectBenchmarkError(
      benchmarkModel({ path: modelPath }, { ...QUICK, executionProvider: 'cuda', openSession: cpuOnlyHost }),
      'provider-unavailable',
    );
    await expectBenchmarkError(benchmarkModel({ path: modelPath }, { ...QUICK, batchSizes: [0] }), 'bad-options');
    await expectBenchmarkError(
      benchmarkModel({ path: modelPath }, { ...QUICK, signal: AbortSignal.abort() }),
      'aborted',
    );
  });
});

describe('compareModels', () => {
  it('interleaves pairs with alternating order and reports both sides and the ratio', async () => {
    const c = await compareModels(
      { path: modelPath, label: 'A' },
      { path: modelPath, label: 'A' },
      { ...QUICK, batchSizes: [2] },
    );
    expect(c.candidate.model.label).toBe('A (candidate)');
    expect(c.baseline.model.label).toBe('A (baseline)');
    const pair = c.pairs[0];
    const a = c.candidate.batches[0];
    const b = c.baseline.batches[0];
    expect(pair?.ratio.pairs).toBe(a?.stats.count);
    expect(b?.stats.count).toBe(a?.stats.count);
    expect(pair?.candidateFirstPairs).toBe(Math.ceil((pair?.ratio.pairs ?? 0) / 2));
    expect(c.biasControls.join(' ')).toMatch(/spinning/);
    expect(c.candidate.settings.allowSpinning).toBe(false);
    expect(c.biasControls.join(' ')).toMatch(/alternates/);
  });

  it('can put the order bias back for a diagnostic run', async () => {
    const c = await compareModels(
      { path: modelPath },
      { path: modelPath },
      { ...QUICK, batchSizes: [1], pairOrder: 'candidate-first' },
    );
    expect(c.pairs[0]?.candidateFirstPairs).toBe(c.pairs[0]?.ratio.pairs);
  });
});

describe('session options and inputs', () => {
  it('turn spinning off through the dotted config keys and use full optimisation', () => {
    const o = sessionOptions({ executionProvider: 'cpu', threads: 3, allowSpinning: false, deviceId: 0 });
    expect(o).toMatchObject({ graphOptimizationLevel: 'all', intraOpNumThreads: 3, executionProviders: ['cpu'] });
    expect(o.extra).toEqual({ session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } });
    expect(
      sessionOptions({ executionProvider: 'cuda', threads: 1, allowSpinning: true, deviceId: 2 }).executionProviders,
    ).toEqual([{ name: 'cuda', deviceId: 2 }]);
  });

  it('are fresh random normals: no zeros, distinct per set, reproducible per seed', async () => {
    const session = await InferenceSession.create(modelBytes);
    try {
      const feeds = randomFeeds(session, 4, 3, 5, 'probe');
      const data = feeds.map((f) => f.x?.data as Float32Array);
      expect(feeds[0]?.x?.dims).toEqual([4, 16]);
      for (const d of data) {
        expect(d.every((v) => v !== 0 && Number.isFinite(v))).toBe(true);
        const mean = d.reduce((s, v) => s + v, 0) / d.length;
        expect(Math.abs(mean)).toBeLessThan(0.5);
      }
      expect(data[0]).not.toEqual(data[1]);
      expect(randomFeeds(session, 4, 1, 5, 'probe')[0]?.x?.data).toEqual(data[0]);
    } finally {
      await session.release();
    }
  });

  it('refuse symbolic dimensions other than the batch', () => {
    expect(() => concreteShape({ name: 'x', isTensor: true, type: 'float32', shape: ['n', 'w'] }, 2, 'm')).toThrow(
      /dimension 1 is 'w'/,
    );
    expect(() => concreteShape({ name: 'x', isTensor: true, type: 'int64', shape: ['n'] }, 2, 'm')).toThrow(
      /float32 inputs only/,
    );
  });

  it('size warm-up windows by run time', () => {
    expect(warmupWindowRuns(0.2, 300)).toBe(50);
    expect(warmupWindowRuns(30, 300)).toBe(10);
    expect(warmupWindowRuns(2_000, 300)).toBe(3);
  });
});

describe('early stop once the p50 is known well enough', () => {
  it('medianPreciseEnough holds for a tight series and not for a scattered one or a disabled target', () => {
    const tight = Array.from({ length: 30 }, (_, i) => 100 + (i % 3) * 0.5);
    const scattered = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 50 : 150) + i);
    expect(medianPreciseEnough(tight, 0.02)).toBe(true);
    expect(medianPreciseEnough(scattered, 0.02)).toBe(false);
    expect(medianPreciseEnough(tight, 0)).toBe(false);
    // Below 6 samples the interval is the whole range: one outlier keeps it imprecise.
    expect(medianPreciseEnough([100, 100, 100, 100, 300], 0.02)).toBe(false);
  });

  it('without a precision target, measuring ends at maxRuns or the time budget and the report says which', async () => {
    const byRuns = await benchmarkModel(
      { path: modelPath },
      { ...QUICK, batchSizes: [1], maxRuns: 5, minRuns: 5, timeBudgetMs: 60_000, targetPrecision: 0 },
    );
    expect(byRuns.batches[0]).toMatchObject({ stoppedBy: 'max-runs', stats: { count: 5 } });
    expect(byRuns.settings.targetPrecision).toBe(0);
    const byBudget = await benchmarkModel(
      { path: modelPath },
      { ...QUICK, batchSizes: [1], maxRuns: 100_000, minRuns: 3, timeBudgetMs: 30, targetPrecision: 0 },
    );
    expect(byBudget.batches[0]?.stoppedBy).toBe('time-budget');
    expect(byBudget.batches[0]?.stats.count).toBeLessThan(100_000);
  });

  it('refuses a precision target outside [0, 1)', async () => {
    await expectBenchmarkError(benchmarkModel({ path: modelPath }, { ...QUICK, targetPrecision: 1 }), 'bad-options');
  });
});
