/**
 * Rounding and the uint8/int8 parameter arithmetic of ONNX QuantizeLinear, in one place so that the
 * weights we quantize ourselves round exactly as onnxruntime rounds activations (half to even) and
 * every scale is a float32 value (what the file stores).
 */

/** Round half to even, as QuantizeLinear does (`Math.round` rounds half up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface UInt8Params {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** The smallest scale we write: a tensor that calibration saw as all zeros still dequantizes to zeros. */
const MIN_SCALE = 1e-8;

/**
 * Asymmetric uint8 parameters covering [min, max], widened to include 0 so that zero (padding, ReLU's
 * floor) is exact. The scale is rounded to float32 first and the zero point computed from it.
 */
export function uint8Params(min: number, max: number): UInt8Params {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = Math.fround(Math.max((hi - lo) / 255, MIN_SCALE));
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(-lo / scale)));
  return { scale, zeroPoint };
}

/** Symmetric int8 scale for values within ±absMax (levels -127..127; -128 unused, as onnxruntime's MLAS expects). */
export function int8SymmetricScale(absMax: number): number {
  return Math.fround(Math.max(absMax / 127, MIN_SCALE));
}
