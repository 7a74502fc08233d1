/**
 * Per-channel symmetric int8 weights and their int32 biases, the way onnxruntime's integer kernels
 * (QLinearConv, QGemm, MatMulIntegerToFloat) consume them: weight scale per output channel, zero
 * point 0; bias scale = activation scale × weight scale, zero point 0, so the fused kernel adds the
 * int32 bias to its int32 accumulator as it is. Pure arithmetic on arrays: no graph, no I/O.
 */
import { int8SymmetricScale, roundHalfEven } from './rounding';

export interface QuantizedWeight {
  readonly values: Int8Array;
  /** One float32 scale per channel. */
  readonly scales: Float32Array;
}

/**
 * Quantizes `weights` along `axis` of `dims` (0: output channels of Conv [O, I/g, kH, kW] and of
 * Gemm's transposed B [N, K]; 1: the columns of MatMul's or untransposed Gemm's B [K, N]).
 */
export function quantizeWeightPerChannel(
  weights: Float32Array,
  dims: readonly number[],
  axis: number,
): QuantizedWeight {
  const channels = dims[axis] as number;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number): number => Math.floor(i / inner) % channels;
  const absMax = new Float64Array(channels);
  for (let i = 0; i < weights.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(weights[i] as number);
    if (a > (absMax[c] as number)) absMax[c] = a;
  }
  const scales = Float32Array.from(absMax, (m) => int8SymmetricScale(m));
  const values = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const q = roundHalfEven((weights[i] as number) / (scales[channelOf(i)] as number));
    values[i] = Math.max(-127, Math.min(127, q));
  }
  return { values, scales };
}

export interface QuantizedBias {
  readonly values: Int32Array;
  readonly scales: Float32Array;
}

/** int32 bias for input scale `inputScale` and per-channel `weightScales`. */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): QuantizedBias {
  const scales = Float32Array.from(weightScales, (w) => Math.fround(Math.fround(inputScale) * w));
  const values = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const q = roundHalfEven((bias[c] as number) / (scales[c] as number));
    values[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, q));
  }
  return { values, scales };
}
