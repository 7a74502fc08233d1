/** The quantizer's arithmetic: rounding, uint8 activation parameters, per-channel weights, int32 biases, ranges. */
import { describe, expect, it } from 'vitest';
import { chooseRange, HISTOGRAM_BINS, MagnitudeHistogram, MinMax } from '../../quantize/activation-ranges';
import { roundHalfEven, uint8Params } from '../../quantize/rounding';
import { quantizeBias, quantizeWeightPerChannel } from '../../quantize/weight-quantization';

describe('rounding as QuantizeLinear rounds', () => {
  it('rounds halves to even and everything else to nearest', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6].map(roundHalfEven)).toEqual([
      0, 2, 2, -0, -2, -2, 2, 3, -3,
    ]);
  });
});

describe('uint8 activation parameters', () => {
  it('cover [min, max] with zero exactly representable', () => {
    const p = uint8Params(-1, 3);
    expect(p.scale).toBe(Math.fround(4 / 255));
    expect(p.zeroPoint).toBe(64);
    // 0 dequantizes to exactly 0: (q - zp) · scale with q = zp.
    expect((p.zeroPoint - p.zeroPoint) * p.scale).toBe(0);
    expect((0 - p.zeroPoint) * p.scale).toBeCloseTo(-1, 1);
    expect((255 - p.zeroPoint) * p.scale).toBeCloseTo(3, 1);
  });

  it('widen an all-positive range to start at zero (zero point 0)', () => {
    expect(uint8Params(2, 5.1)).toEqual({ scale: Math.fround(5.1 / 255), zeroPoint: 0 });
  });

  it('give a tensor of zeros a positive scale', () => {
    const p = uint8Params(0, 0);
    expect(p.scale).toBeGreaterThan(0);
    expect(p.zeroPoint).toBe(0);
  });
});

describe('per-channel symmetric int8 weights', () => {
  it('scale each output channel by its own largest magnitude (axis 0)', () => {
    // [2, 3]: channel 0 up to 1.27, channel 1 up to 0.254.
    const w = Float32Array.of(1.27, -0.635, 0.01, 0.254, 0.128, -0.254);
    const q = quantizeWeightPerChannel(w, [2, 3], 0);
    expect(Array.from(q.scales)).toEqual([Math.fround(0.01), Math.fround(0.002)]);
    expect(Array.from(q.values)).toEqual([127, -64, 1, 127, 64, -127]);
  });

  it('scale along axis 1 (MatMul B [K, N]: one scale per column)', () => {
    const w = Float32Array.of(1, 10, -2, 5);
    const q = quantizeWeightPerChannel(w, [2, 2], 1);
    expect(Array.from(q.scales)).toEqual([Math.fround(2 / 127), Math.fround(10 / 127)]);
    expect(Array.from(q.values)).toEqual([64, 127, -127, 64]);
  });

  it('dequantize within half a step of every weight and never use -128', () => {
    const n = 4 * 3 * 3 * 3;
    const w = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 4)));
    const q = quantizeWeightPerChannel(w, [4, 3, 3, 3], 0);
    for (let i = 0; i < n; i++) {
      const scale = q.scales[Math.floor(i / 27)] as number;
      expect(Math.abs((q.values[i] as number) * scale - (w[i] as number))).toBeLessThanOrEqual(scale / 2 + 1e-7);
      expect(q.values[i]).toBeGreaterThanOrEqual(-127);
    }
  });
});

describe('int32 biases', () => {
  it('use activation scale × weight scale, so the integer kernel adds them to its accumulator as they are', () => {
    const b = quantizeBias(Float32Array.of(0.5, -0.25), 0.1, Float32Array.of(0.01, 0.02));
    expect(Array.from(b.scales)).toEqual([
      Math.fround(Math.fround(0.1) * Math.fround(0.01)),
      Math.fround(Math.fround(0.1) * Math.fround(0.02)),
    ]);
    expect(Array.from(b.values)).toEqual([500, -125]);
  });
});

describe('activation ranges', () => {
  const values = Float32Array.from({ length: 100_000 }, (_, i) => Math.sin(i) * 2);
  values[7] = 50; // one outlier
  const seen = new MinMax();
  seen.add(values);
  const histogram = new MagnitudeHistogram({ min: seen.min, max: seen.max });
  histogram.add(values);

  it('minmax keeps what calibration saw, outlier included', () => {
    expect(chooseRange('minmax', { min: seen.min, max: seen.max })).toEqual({ min: seen.min, max: 50 });
  });

  it('percentile clips the outlier and keeps the bulk', () => {
    const r = chooseRange('percentile', { min: seen.min, max: seen.max }, histogram);
    expect(r.max).toBeGreaterThanOrEqual(1.99);
    expect(r.max).toBeLessThan(2 + 50 / HISTOGRAM_BINS + 1e-6);
    expect(r.min).toBeLessThanOrEqual(-1.99);
  });

  it('entropy picks a threshold inside what calibration saw', () => {
    const r = chooseRange('entropy', { min: seen.min, max: seen.max }, histogram);
    expect(r.max).toBeLessThanOrEqual(50);
    expect(r.max).toBeGreaterThan(1);
    expect(r.min).toBeGreaterThanOrEqual(seen.min);
  });

  it('counts NaN and Inf so calibration can refuse them', () => {
    const m = new MinMax();
    m.add(Float32Array.of(1, Number.NaN, Number.POSITIVE_INFINITY));
    expect(m.nonFinite).toBe(2);
  });
});
