/** bench/statistics on synthetic samples: the formulas, not the machine. */
import { describe, expect, it } from 'vitest';
import { BenchmarkError } from '../../bench/bench-error';
import { normalSource } from '../../bench/model-inputs';
import {
  medianCi95Sorted,
  quantile,
  runsAgree,
  sortedCopy,
  summarize,
  summarizeRatios,
  throughputPerSecond,
  warmupWindowsAgree,
} from '../../bench/statistics';

/** Log-normal latencies around `medianMs` (right-skewed like real ones). */
function lognormal(n: number, medianMs: number, sigma: number, seed: number): number[] {
  const next = normalSource(seed);
  return Array.from({ length: n }, () => medianMs * Math.exp(sigma * next()));
}

describe('quantile', () => {
  it.each([
    [[1, 2, 3, 4], 0.5, 2.5],
    [[1, 2, 3, 4], 0.9, 3.7],
    [[1, 2, 3, 4], 0.99, 3.97],
    [[4, 1, 3, 2], 0, 1],
    [[4, 1, 3, 2], 1, 4],
    [[7], 0.5, 7],
  ])('of %j at %d is %d (numpy linear)', (samples, q, expected) => {
    expect(quantile(samples, q)).toBeCloseTo(expected, 12);
  });

  it('rejects q outside [0, 1], empty and non-finite samples with a BenchmarkError', () => {
    expect(() => quantile([1], 1.5)).toThrow(BenchmarkError);
    expect(() => quantile([], 0.5)).toThrow(/no samples/);
    expect(() => summarize([1, Number.NaN])).toThrow(/not finite/);
  });
});

describe('summarize', () => {
  it('orders the percentiles and gives mean, spread and CV', () => {
    const s = summarize([5, 1, 4, 2, 3, 10, 6, 7, 8, 9]);
    expect(s).toMatchObject({ count: 10, min: 1, max: 10, mean: 5.5 });
    expect(s.p50).toBe(5.5);
    expect(s.min).toBeLessThanOrEqual(s.p50);
    expect(s.p50).toBeLessThanOrEqual(s.p90);
    expect(s.p90).toBeLessThanOrEqual(s.p99);
    expect(s.p99).toBeLessThanOrEqual(s.max);
    expect(s.stdDev).toBeCloseTo(Math.sqrt(82.5 / 9), 12);
    expect(s.cv).toBeCloseTo(s.stdDev / 5.5, 12);
    expect(s.p50Ci95[0]).toBeLessThanOrEqual(s.p50);
    expect(s.p50Ci95[1]).toBeGreaterThanOrEqual(s.p50);
  });

  it('gives a zero spread for identical samples', () => {
    const s = summarize([3, 3, 3, 3, 3, 3, 3, 3]);
    expect(s.cv).toBe(0);
    expect(s.p50Ci95).toEqual([3, 3]);
  });

  it('throughput is samples over total time', () => {
    expect(throughputPerSecond(32, [10, 30])).toBeCloseTo((32 * 2 * 1000) / 40, 12);
  });
});

describe('median confidence interval', () => {
  it('covers the true median of skewed samples about 95% of the time', () => {
    const trials = 2000;
    let covered = 0;
    for (let t = 0; t < trials; t++) {
      const [lo, hi] = medianCi95Sorted(sortedCopy(lognormal(60, 10, 0.4, 1000 + t)));
      if (lo <= 10 && 10 <= hi) covered++;
    }
    const rate = covered / trials;
    expect(rate).toBeGreaterThan(0.93);
    expect(rate).toBeLessThan(0.985);
  });

  it('narrows as samples grow and is the whole range below 6 samples', () => {
    const width = (n: number) => {
      const [lo, hi] = medianCi95Sorted(sortedCopy(lognormal(n, 10, 0.3, 7)));
      return hi - lo;
    };
    expect(width(400)).toBeLessThan(width(40));
    expect(medianCi95Sorted([1, 2, 3, 4, 5])).toEqual([1, 5]);
  });
});

describe('per-pair ratios', () => {
  it('cancel a drift both models share: A against A gives 1.00 inside its interval', () => {
    const noiseA = lognormal(300, 1, 0.15, 11);
    const noiseB = lognormal(300, 1, 0.15, 12);
    // the machine slows down threefold over the run; both models see the same drift
    const drift = noiseA.map((_, i) => 5 * (1 + (2 * i) / 300));
    const r = summarizeRatios(
      noiseA.map((v, i) => v * (drift[i] as number)),
      noiseB.map((v, i) => v * (drift[i] as number)),
    );
    expect(r.pairs).toBe(300);
    expect(r.medianCi95[0]).toBeLessThanOrEqual(1);
    expect(r.medianCi95[1]).toBeGreaterThanOrEqual(1);
    expect(r.verdict).toBe('same');
    expect(r.p10).toBeLessThan(r.median);
    expect(r.p90).toBeGreaterThan(r.median);
  });

  it('find a 10% slower candidate and say which side is faster', () => {
    const a = lognormal(200, 11, 0.05, 21);
    const b = lognormal(200, 10, 0.05, 22);
    const r = summarizeRatios(a, b);
    expect(r.median).toBeGreaterThan(1.05);
    expect(r.median).toBeLessThan(1.15);
    expect(r.verdict).toBe('baseline-faster');
    expect(summarizeRatios(b, a).verdict).toBe('candidate-faster');
    expect(r.geometricMean).toBeCloseTo(1.1, 1);
  });

  it('refuse unpaired or non-positive samples', () => {
    expect(() => summarizeRatios([1, 2], [1])).toThrow(/differ in length/);
    expect(() => summarizeRatios([1], [0])).toThrow(/positive/);
  });
});

describe('warm-up windows', () => {
  it('agree on flat noise and disagree on a falling trend', () => {
    const flat = lognormal(40, 5, 0.2, 31);
    expect(warmupWindowsAgree(flat.slice(0, 20), flat.slice(20), 0.05).agree).toBe(true);
    const falling = Array.from({ length: 40 }, (_, i) => 20 - i * 0.3);
    const v = warmupWindowsAgree(falling.slice(0, 20), falling.slice(20), 0.05);
    expect(v.agree).toBe(false);
    expect(v.relativeChange).toBeGreaterThan(0.3);
  });

  it('never agree with an empty window', () => {
    expect(warmupWindowsAgree([], [1], 0.05).agree).toBe(false);
  });
});

describe('two runs', () => {
  it('agree when their median intervals overlap, and not when they are apart', () => {
    const a = summarize(lognormal(200, 10, 0.1, 41));
    const b = summarize(lognormal(200, 10, 0.1, 42));
    const c = summarize(lognormal(200, 12, 0.1, 43));
    expect(runsAgree(a, b).agree).toBe(true);
    expect(runsAgree(a, c).agree).toBe(false);
    expect(runsAgree(a, c).relativeDifference).toBeCloseTo(0.2, 1);
  });
});
