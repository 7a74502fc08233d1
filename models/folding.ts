/**
 * Eval-mode folds as lazy tensors: layer_scale into the block's second pointwise weight and bias, and
 * BatchNorm1d into the preceding Linear or Conv1d. Nothing is read or computed while the graph is built; the
 * serializer calls `load()` when it writes the tensor, one tensor at a time. Folds are computed in
 * float64 and rounded once to float32. It must not decide graph structure.
 */
import type { WeightsFile } from '../checkpoint';
import { lazyTensor, type Tensor } from '../onnx/ir';

/** BatchNorm1d's default epsilon: LocalizationNet's heads use `nn.BatchNorm1d(n)` (the state_dict does not store eps). */
export const BATCH_NORM_EPSILON = 1e-5;

/** A Float32Array's bytes (no copy): what a lazy tensor's `load()` returns. */
export const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * `rows × cols` row-major `w` with row i multiplied by `scale[i]`, into `out` (a new array unless
 * given; the folds pass `w` itself, a buffer they own, which saves a model-sized allocation).
 */
export function scaleRows(
  w: Float32Array,
  scale: ArrayLike<number>,
  out: Float32Array = new Float32Array(w.length),
): Float32Array {
  const rows = scale.length;
  const cols = w.length / rows;
  for (let i = 0; i < rows; i++) {
    const s = scale[i] as number;
    const base = i * cols;
    for (let j = base; j < base + cols; j++) out[j] = (w[j] as number) * s;
  }
  return out;
}

/** `weight[i,...] * layer_scale[i]`, as a tensor named `name` with `dims`. */
export function layerScaled(
  weights: WeightsFile,
  name: string,
  key: string,
  layerScaleKey: string,
  dims: readonly number[],
): Tensor {
  return lazyTensor(name, 'float32', dims, async () => {
    const [w, ls] = await Promise.all([weights.readFloat32(key), weights.readFloat32(layerScaleKey)]);
    return bytesOf(scaleRows(w, ls, w));
  });
}

/** BatchNorm1d `bn`'s eval statistics: scale = γ/√(var + eps) in float64, with β and the running mean. */
export async function batchNormStats(
  weights: WeightsFile,
  bn: string,
): Promise<{ scale: Float64Array; beta: Float32Array; mean: Float32Array }> {
  const [gamma, beta, mean, variance] = (await Promise.all(
    ['weight', 'bias', 'running_mean', 'running_var'].map((p) => weights.readFloat32(`${bn}.${p}`)),
  )) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const scale = Float64Array.from(gamma, (g, i) => g / Math.sqrt((variance[i] as number) + BATCH_NORM_EPSILON));
  return { scale, beta, mean };
}

/**
 * BatchNorm1d `bn` (state_dict prefix) folded into the Linear or Conv1d `linear` before it: returns the
 * folded weight (with `dims`, default the weight's own shape, e.g. a k=1 Conv1d's `[out, in]` for Gemm)
 * and bias (a layer without bias, such as a `bias=False` Conv1d, counts as bias 0).
 */
export function batchNormFolded(
  weights: WeightsFile,
  linear: string,
  bn: string,
  dims?: readonly number[],
): { weight: Tensor; bias: Tensor } {
  const rows = dims ?? weights.require(`${linear}.weight`).shape;
  const hasBias = weights.get(`${linear}.bias`) !== undefined;
  const weight = lazyTensor(`${linear}.weight+${bn}`, 'float32', rows, async () => {
    const [{ scale }, w] = await Promise.all([batchNormStats(weights, bn), weights.readFloat32(`${linear}.weight`)]);
    return bytesOf(scaleRows(w, scale, w));
  });
  const bias = lazyTensor(`${linear}.bias+${bn}`, 'float32', [rows[0] ?? 0], async () => {
    const { scale, beta, mean } = await batchNormStats(weights, bn);
    const b = hasBias ? await weights.readFloat32(`${linear}.bias`) : new Float32Array(scale.length);
    return bytesOf(
      Float32Array.from(b, (v, i) => (v - (mean[i] as number)) * (scale[i] as number) + (beta[i] as number)),
    );
  });
  return { weight, bias };
}
