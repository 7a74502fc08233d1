/**
 * HeimdallNet's eval folds as lazy tensors, beyond models/folding.ts's BatchNorm-into-layer. At length 1
 * (spec E3) a block's depthwise conv is its centre tap c, a per-channel scale; c goes where it is exact:
 * into the squeeze-excite BatchNorm's affine map and into the columns of the project conv. The
 * calibration layers are stacked so one tensor can be indexed by receiver id. Computed in float64,
 * rounded once; nothing is read while the graph is built. It must not decide graph structure.
 */
import type { WeightsFile } from '../../checkpoint';
import { lazyTensor, type Tensor } from '../../onnx/ir';
import { batchNormStats, bytesOf } from '../folding';

/** Index of the centre tap in a (C, 1, 3) depthwise kernel. */
const CENTRE_TAP = 1;
const KERNEL = 3;

async function centreTaps(weights: WeightsFile, depthwise: string): Promise<Float32Array> {
  const w = await weights.readFloat32(`${depthwise}.weight`);
  return Float32Array.from({ length: w.length / KERNEL }, (_, i) => w[i * KERNEL + CENTRE_TAP] as number);
}

/**
 * BatchNorm `bn` applied to `d = e·c` (c the depthwise centre taps) as an affine map of e:
 * `BN(e·c) = e·(c·s) + (β − μ·s)`, s = γ/√(var + eps). Returns the scale and the shift, each (C).
 */
export function centreTapBatchNorm(
  weights: WeightsFile,
  depthwise: string,
  bn: string,
): { scale: Tensor; shift: Tensor } {
  const channels = weights.require(`${bn}.weight`).shape;
  const scale = lazyTensor(`${bn}*${depthwise}.centre_tap`, 'float32', channels, async () => {
    const [{ scale: s }, c] = await Promise.all([batchNormStats(weights, bn), centreTaps(weights, depthwise)]);
    return bytesOf(Float32Array.from(c, (v, i) => v * (s[i] as number)));
  });
  const shift = lazyTensor(`${bn}.shift`, 'float32', channels, async () => {
    const { scale: s, beta, mean } = await batchNormStats(weights, bn);
    return bytesOf(Float32Array.from(beta, (v, i) => v - (mean[i] as number) * (s[i] as number)));
  });
  return { scale, shift };
}

/**
 * A k=1, bias-free Conv1d `conv` (Cout, hid, 1) applied to `e·c·g`, with BatchNorm `bn` after it, as one
 * Gemm weight on `e·g`: W'[o, j] = s[o]·W[o, j]·c[j] ([Cout, hid]). Its bias is batchNormFolded's.
 */
export function centreTapProjection(weights: WeightsFile, conv: string, depthwise: string, bn: string): Tensor {
  const [cout, hid] = weights.require(`${conv}.weight`).shape as [number, number];
  return lazyTensor(`${conv}.weight*${depthwise}.centre_tap+${bn}`, 'float32', [cout, hid], async () => {
    const [{ scale }, c, w] = await Promise.all([
      batchNormStats(weights, bn),
      centreTaps(weights, depthwise),
      weights.readFloat32(`${conv}.weight`),
    ]);
    for (let o = 0; o < cout; o++) {
      for (let j = 0; j < hid; j++)
        w[o * hid + j] = (w[o * hid + j] as number) * (scale[o] as number) * (c[j] as number);
    }
    return bytesOf(w);
  });
}

/**
 * The tensors `keys` (each of `shape`), stacked in order into one tensor `name` of [keys.length, ...shape]
 * (or with `transpose`, each 2-D (out, in) tensor stored as (in, out)).
 */
export function stacked(
  weights: WeightsFile,
  name: string,
  keys: readonly string[],
  shape: readonly number[],
  options: { transpose?: boolean; dims?: readonly number[] } = {},
): Tensor {
  const each = shape.reduce((a, d) => a * d, 1);
  const [rows, cols] = shape as [number, number];
  const itemDims = options.transpose ? [cols, rows] : shape;
  return lazyTensor(name, 'float32', options.dims ?? [keys.length, ...itemDims], async () => {
    const out = new Float32Array(keys.length * each);
    for (const [k, key] of keys.entries()) {
      const w = await weights.readFloat32(key);
      if (!options.transpose) out.set(w, k * each);
      else
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < cols; j++) out[k * each + j * rows + i] = w[i * cols + j] as number;
    }
    return bytesOf(out);
  });
}
