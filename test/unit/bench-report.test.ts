/** bench/latency-figure and bench/format-report on synthetic reports: what a reader sees. */
import { describe, expect, it } from 'vitest';
import { latencyFigureSpec, renderLatencySvg } from '../../bench/latency-figure';
import { formatComparison, formatLatencyReport } from '../../bench/format-report';
import { normalSource } from '../../bench/model-inputs';
import type { ComparisonReport, LatencyReport } from '../../bench/report-types';
import { summarize, summarizeRatios, throughputPerSecond } from '../../bench/statistics';

function samples(n: number, medianMs: number, seed: number): number[] {
  const next = normalSource(seed);
  return Array.from({ length: n }, () => medianMs * Math.exp(0.1 * next()));
}

function report(
  label: string,
  ep: 'cpu' | 'cuda',
  medians: Record<number, number>,
  seed: number,
  requested: 'cpu' | 'cuda' = ep,
): LatencyReport {
  return {
    kind: 'latency',
    schemaVersion: 1,
    model: {
      label,
      path: `/m/${label}.onnx`,
      bytes: 1234,
      sha256: 'ab'.repeat(32),
      inputName: 'mel_spectrogram',
      outputNames: ['positions', 'uncertainties'],
    },
    host: {
      cpuModel: 'Test CPU',
      logicalCores: 2,
      totalMemoryBytes: 2 ** 34,
      platform: 'linux',
      arch: 'x64',
      nodeVersion: 'v20',
      onnxruntimeVersion: '1.30.0',
      loadAverageStart: 0.5,
      loadAverageEnd: 0.6,
    },
    settings: {
      executionProvider: ep,
      requestedExecutionProvider: requested,
      intraOpThreads: 2,
      allowSpinning: false,
      graphOptimizationLevel: 'all',
      maxRuns: 50,
      minRuns: 10,
      timeBudgetMs: 1000,
      warmupTolerance: 0.05,
      inputSets: 4,
      seed: 17,
    },
    sessionCreationMs: 42,
    batches: Object.entries(medians).map(([batch, m], i) => {
      const s = samples(50, m, seed + i);
      const batchSize = Number(batch);
      return {
        batchSize,
        firstRunMs: m * 3,
        warmup: { runs: 20, durationMs: 100, stable: i === 0, lastWindowChange: 0.01 },
        stats: summarize(s),
        throughputPerSecond: throughputPerSecond(batchSize, s),
        peakRssBytes: 2 ** 27,
        samplesMs: s,
      };
    }),
    startedAt: '2026-01-02T03:04:05.000Z',
    durationMs: 5000,
  };
}

function comparison(): ComparisonReport {
  const candidate = report('ours', 'cpu', { 1: 2, 32: 40 }, 1);
  const baseline = report('torch', 'cpu', { 1: 2.2, 32: 44 }, 100);
  return {
    kind: 'comparison',
    schemaVersion: 1,
    candidate,
    baseline,
    pairs: candidate.batches.map((b, i) => ({
      batchSize: b.batchSize,
      ratio: summarizeRatios(b.samplesMs, baseline.batches[i]?.samplesMs ?? []),
      candidateFirstPairs: 25,
    })),
    biasControls: ['spinning off'],
  };
}

describe('latency figure', () => {
  it('has one latency panel per batch size, and a ratio panel for a comparison', () => {
    const single = latencyFigureSpec({ reports: [report('m', 'cpu', { 1: 1, 32: 20 }, 1)] }) as { vconcat: unknown[] };
    expect(single.vconcat).toHaveLength(2);
    const cmp = latencyFigureSpec({ comparison: comparison() }) as { vconcat: unknown[] };
    expect(cmp.vconcat).toHaveLength(3);
  });

  it('renders a standalone SVG that carries the numbers, the host and the warnings as text', async () => {
    const gpuTest = report('m', 'cpu', { 1: 1, 32: 20 }, 5, 'cuda');
    const svg = await renderLatencySvg({ reports: [report('m', 'cpu', { 1: 1, 32: 20 }, 1), gpuTest] });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('batch 32');
    expect(svg).toMatch(/p50 \d/);
    expect(svg).toContain('samples/s');
    expect(svg).toContain('Test CPU, 2 cores');
    expect(svg).toContain('cuda→cpu (test)');
    expect(svg).toMatch(/warm-up did not settle/);
  });

  it('renders the comparison with the per-pair ratio line and verdict', async () => {
    const svg = await renderLatencySvg({ comparison: comparison() });
    expect(svg).toContain('per-pair ratio');
    expect(svg).toMatch(/median 0\.9\d\d \[/);
    expect(svg).toContain('ours faster');
  });

  it('refuses an empty figure', () => {
    expect(() => latencyFigureSpec({})).toThrow(/at least one report/);
  });
});

describe('text report', () => {
  it('prints a row per batch size with the p50 interval and the host', () => {
    const text = formatLatencyReport(report('m', 'cpu', { 1: 1, 32: 20 }, 1));
    expect(text).toMatch(/Test CPU, 2 cores, onnxruntime 1\.30\.0/);
    expect(text).toMatch(/p50 ms \[95% CI\]/);
    expect(text.split('\n').filter((l) => /^\s+(1|32)\s/.test(l))).toHaveLength(2);
    expect(text).toContain('(unsettled)');
  });

  it('prints the ratio per batch size with its verdict', () => {
    const text = formatComparison(comparison());
    expect(text).toMatch(/batch {3}1: median 0\.\d+ \[95% CI/);
    expect(text).toContain('candidate faster');
  });
});
