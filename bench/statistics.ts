/**
 * Statistics for latency samples: percentiles, spread, distribution-free confidence intervals of the
 * median, per-pair ratios of an interleaved comparison, warm-up stability and run-to-run agreement.
 *
 * Pure functions on numbers: no clocks, no onnxruntime, no I/O, so every formula is unit-tested on
 * synthetic samples. It must not decide how samples are measured (that is latency-benchmark.ts).
 */
import { BenchmarkError } from './bench-error';

/** z for a two-sided 95% interval of a normal distribution. */
const Z_95 = 1.959963984540054;

/** Latency summary of one batch size; every time in milliseconds. */
export interface LatencyStats {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  readonly stdDev: number;
  /** Coefficient of variation: stdDev / mean. */
  readonly cv: number;
  /** Distribution-free 95% confidence interval of the median: the spread the report gives for p50. */
  readonly p50Ci95: readonly [number, number];
}

/** Per-pair ratios (candidate / baseline) of an interleaved comparison. */
export interface RatioStats {
  readonly pairs: number;
  readonly median: number;
  /** Distribution-free 95% confidence interval of the median ratio. */
  readonly medianCi95: readonly [number, number];
  /** 10th and 90th percentile of the per-pair ratios: how much single pairs scatter. */
  readonly p10: number;
  readonly p90: number;
  readonly geometricMean: number;
  /** `same` when the interval holds 1.00. */
  readonly verdict: 'candidate-faster' | 'baseline-faster' | 'same';
}

function requireSamples(samples: readonly number[], what: string): void {
  if (samples.length === 0) throw new BenchmarkError(`${what}: no samples`, { kind: 'statistics' });
  for (const v of samples) {
    if (!Number.isFinite(v)) throw new BenchmarkError(`${what}: sample ${v} is not finite`, { kind: 'statistics' });
  }
}

export function sortedCopy(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

/** Quantile of sorted samples with linear interpolation between order statistics (Hyndman-Fan type 7, numpy's default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new BenchmarkError(`quantile ${q} is outside [0, 1]`, { kind: 'statistics' });
  requireSamples(sorted, 'quantile');
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (h - lo) * (b - a);
}

export function quantile(samples: readonly number[], q: number): number {
  return quantileSorted(sortedCopy(samples), q);
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/**
 * 95% confidence interval of the median from order statistics (binomial ranks, normal approximation):
 * valid for any distribution, which latency samples (skewed, with outliers) need. Below 6 samples the
 * interval is the whole range.
 */
export function medianCi95Sorted(sorted: readonly number[]): [number, number] {
  requireSamples(sorted, 'median interval');
  const n = sorted.length;
  if (n < 6) return [sorted[0] as number, sorted[n - 1] as number];
  const half = (Z_95 * Math.sqrt(n)) / 2;
  const lower = Math.max(1, Math.floor(n / 2 - half));
  const upper = Math.min(n, Math.ceil(n / 2 + half + 1));
  return [sorted[lower - 1] as number, sorted[upper - 1] as number];
}

export function summarize(samplesMs: readonly number[]): LatencyStats {
  requireSamples(samplesMs, 'latency summary');
  const sorted = sortedCopy(samplesMs);
  const n = sorted.length;
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
  const stdDev = Math.sqrt(variance);
  return {
    count: n,
    min: sorted[0] as number,
    p50: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    max: sorted[n - 1] as number,
    mean,
    stdDev,
    cv: mean > 0 ? stdDev / mean : 0,
    p50Ci95: medianCi95Sorted(sorted),
  };
}

/** Samples per second of sequential runs: all samples processed over all time spent. */
export function throughputPerSecond(batchSize: number, samplesMs: readonly number[]): number {
  requireSamples(samplesMs, 'throughput');
  const totalMs = samplesMs.reduce((s, v) => s + v, 0);
  return totalMs > 0 ? (batchSize * samplesMs.length * 1000) / totalMs : Number.POSITIVE_INFINITY;
}

/** Ratios candidate[i] / baseline[i] of interleaved pairs, summarised. */
export function summarizeRatios(candidateMs: readonly number[], baselineMs: readonly number[]): RatioStats {
  if (candidateMs.length !== baselineMs.length) {
    throw new BenchmarkError(
      `paired samples differ in length: candidate ${candidateMs.length}, baseline ${baselineMs.length}`,
      { kind: 'statistics' },
    );
  }
  requireSamples(candidateMs, 'ratio candidate');
  requireSamples(baselineMs, 'ratio baseline');
  const ratios = candidateMs.map((c, i) => {
    const b = baselineMs[i] as number;
    if (!(b > 0))
      throw new BenchmarkError(`baseline sample ${i} is ${b}: ratios need positive times`, { kind: 'statistics' });
    return c / b;
  });
  const sorted = sortedCopy(ratios);
  const ci = medianCi95Sorted(sorted);
  const geometricMean = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
  return {
    pairs: ratios.length,
    median: quantileSorted(sorted, 0.5),
    medianCi95: ci,
    p10: quantileSorted(sorted, 0.1),
    p90: quantileSorted(sorted, 0.9),
    geometricMean,
    verdict: ci[1] < 1 ? 'candidate-faster' : ci[0] > 1 ? 'baseline-faster' : 'same',
  };
}

/**
 * Warm-up is over when the latest window's median moved by at most `tolerance` (relative) from the
 * window before, or by less than the noise (the two medians' 95% intervals overlap): one run is never
 * enough (allocator growth, lazy kernels, caches, CPU frequency), and a trend still shows as
 * non-overlapping intervals.
 */
export function warmupWindowsAgree(
  previous: readonly number[],
  latest: readonly number[],
  tolerance: number,
): { agree: boolean; relativeChange: number } {
  if (previous.length === 0 || latest.length === 0) return { agree: false, relativeChange: Number.NaN };
  const a = sortedCopy(previous);
  const b = sortedCopy(latest);
  const ma = quantileSorted(a, 0.5);
  const mb = quantileSorted(b, 0.5);
  const relativeChange = ma > 0 ? Math.abs(mb - ma) / ma : Number.POSITIVE_INFINITY;
  if (relativeChange <= tolerance) return { agree: true, relativeChange };
  if (a.length < 6 || b.length < 6) return { agree: false, relativeChange };
  const ca = medianCi95Sorted(a);
  const cb = medianCi95Sorted(b);
  return { agree: ca[0] <= cb[1] && cb[0] <= ca[1], relativeChange };
}

/** How two reports' medians for one batch size relate, judged by the interval each report gives. */
export interface RunAgreement {
  readonly relativeDifference: number;
  /** True when each run's p50 lies inside the other run's 95% interval or the two intervals overlap. */
  readonly agree: boolean;
}

export function runsAgree(a: LatencyStats, b: LatencyStats): RunAgreement {
  const overlap = a.p50Ci95[0] <= b.p50Ci95[1] && b.p50Ci95[0] <= a.p50Ci95[1];
  return { relativeDifference: (b.p50 - a.p50) / a.p50, agree: overlap };
}
