/**
 * What calibration keeps of each activation tensor, and the range each method picks from it:
 * - minmax: the smallest and largest value seen;
 * - percentile: both tails clipped at PERCENTILE of the values seen;
 * - entropy: the |x| threshold whose 128-level quantization loses the least information (KL
 *   divergence of the clipped histogram, TensorRT's calibration), clipped to what was seen.
 * Statistics are accumulated batch by batch, so calibration never holds more than one batch. Pure
 * arithmetic: no onnxruntime, no graph.
 */
import type { CalibrationMethod } from './calibration-methods';

/** Bins of the |x| histogram (percentile and entropy). */
export const HISTOGRAM_BINS = 2048;
/** Share of values kept by the percentile method, per tail. */
export const PERCENTILE = 0.9999;
/** Levels on one side of zero in a quantized tensor (entropy's target). */
const QUANT_LEVELS = 128;
/** Candidate thresholds are this many bins apart (a 16th of a level: finer changes nothing measurable). */
const ENTROPY_STEP = 8;

export interface Range {
  readonly min: number;
  readonly max: number;
}

/** Running min/max of one tensor (pass 1). */
export class MinMax {
  min = Infinity;
  max = -Infinity;
  count = 0;
  nonFinite = 0;

  add(values: Float32Array): void {
    let { min, max } = this;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (v < min) min = v;
      if (v > max) max = v;
      if (!Number.isFinite(v)) this.nonFinite++;
    }
    this.min = min;
    this.max = max;
    this.count += values.length;
  }
}

/** Histograms of one tensor's negative and positive magnitudes over [0, absMax] (pass 2). */
export class MagnitudeHistogram {
  readonly negative = new Float64Array(HISTOGRAM_BINS);
  readonly positive = new Float64Array(HISTOGRAM_BINS);
  readonly binWidth: number;

  constructor(readonly seen: Range) {
    this.binWidth = Math.max(Math.abs(seen.min), Math.abs(seen.max)) / HISTOGRAM_BINS || 1;
  }

  add(values: Float32Array): void {
    const { negative, positive, binWidth } = this;
    const last = HISTOGRAM_BINS - 1;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      const bin = Math.min(last, Math.floor(Math.abs(v) / binWidth));
      if (v < 0) negative[bin] = (negative[bin] as number) + 1;
      else positive[bin] = (positive[bin] as number) + 1;
    }
  }
}

/** The range `method` picks; minmax needs only `seen`. */
export function chooseRange(method: CalibrationMethod, seen: Range, histogram?: MagnitudeHistogram): Range {
  if (method === 'minmax' || histogram === undefined) return seen;
  if (method === 'percentile') {
    return {
      min: -tailThreshold(histogram.negative, histogram.binWidth, PERCENTILE),
      max: tailThreshold(histogram.positive, histogram.binWidth, PERCENTILE),
    };
  }
  const both = histogram.negative.map((n, i) => n + (histogram.positive[i] as number));
  const threshold = entropyThreshold(both, histogram.binWidth);
  return { min: Math.max(seen.min, -threshold), max: Math.min(seen.max, threshold) };
}

/** The magnitude below which `share` of the histogram's values lie (0 for an empty side). */
function tailThreshold(bins: Float64Array, binWidth: number, share: number): number {
  const total = bins.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    seen += bins[i] as number;
    if (seen >= share * total) return (i + 1) * binWidth;
  }
  return bins.length * binWidth;
}

/**
 * TensorRT's entropy calibration on a magnitude histogram: for each candidate threshold (in bins,
 * from QUANT_LEVELS up), the distribution clipped there (outliers folded into the last bin) against
 * its QUANT_LEVELS-level quantization; the threshold of least KL divergence.
 */
function entropyThreshold(bins: Float64Array, binWidth: number): number {
  let best = bins.length;
  let bestDivergence = Infinity;
  for (let t = QUANT_LEVELS; t <= bins.length; t += ENTROPY_STEP) {
    const reference = Array.from(bins.subarray(0, t));
    let outliers = 0;
    for (let i = t; i < bins.length; i++) outliers += bins[i] as number;
    reference[t - 1] = (reference[t - 1] as number) + outliers;
    const candidate = quantizedDistribution(bins.subarray(0, t), QUANT_LEVELS);
    const divergence = klDivergence(reference, candidate);
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = t;
    }
  }
  return best * binWidth;
}

/** `bins` merged into `levels` groups and spread back evenly over each group's non-empty bins. */
function quantizedDistribution(bins: Float64Array, levels: number): number[] {
  const out = new Array<number>(bins.length).fill(0);
  const perLevel = bins.length / levels;
  for (let l = 0; l < levels; l++) {
    const start = Math.floor(l * perLevel);
    const end = l === levels - 1 ? bins.length : Math.floor((l + 1) * perLevel);
    let sum = 0;
    let nonEmpty = 0;
    for (let i = start; i < end; i++) {
      sum += bins[i] as number;
      if ((bins[i] as number) > 0) nonEmpty++;
    }
    for (let i = start; i < end; i++) if ((bins[i] as number) > 0) out[i] = sum / nonEmpty;
  }
  return out;
}

function klDivergence(p: readonly number[], q: readonly number[]): number {
  const pSum = p.reduce((a, b) => a + b, 0);
  const qSum = q.reduce((a, b) => a + b, 0);
  if (pSum === 0 || qSum === 0) return 0;
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = (p[i] as number) / pSum;
    if (pi === 0) continue;
    const qi = (q[i] as number) / qSum;
    d += qi === 0 ? pi * 20 : pi * Math.log(pi / qi);
  }
  return d;
}
