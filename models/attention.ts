/**
 * nn.MultiheadAttention as the set models call it (TriangulationModel T2, IQResNet18 R5;
 * shared/heimdall-models.md section 0): self-attention over the receivers of each sample, packed
 * `in_proj` weights (rows Q, K, V), h heads of size d = D/h, softmax(Q·Kᵀ/√d + M)·V with M = −∞ at
 * keys the key_padding_mask marks (True = masked), heads concatenated, then `out_proj`; optionally
 * the attention map averaged over heads, [B, N_query, N_key], as `need_weights` returns it.
 * A sample whose keys are all masked gets NaN rows, as PyTorch's does (the models' masked fills
 * decide what survives).
 *
 * Graph shape: rows are slot-major [N·B, D] (receiver-set.ts) around the two Gemms (the weights' own
 * row-major layout, transB, so `out_proj` is the file's bytes as they are); 1/√d is folded into the Q
 * rows of `in_proj` (PyTorch scales q before Q·Kᵀ; the fold rounds once, in float64); Q, K and V come
 * from one Gemm, one Reshape to [N, B, 3h, d] and one Split, and the per-head transposes are of the
 * form onnxruntime fuses into MatMul. Measured on TriangulationModel at batch 32 (N = 7): a sample-major
 * layout needed a real Transpose for Kᵀ ([0, 2, 3, 1]) that alone took 185 µs of a 470 µs run, and
 * attention by broadcast Mul + ReduceSum (no MatMul) ran 0.37 ms against 0.31 ms for torch's graph.
 * It must not read tensor data while building (the fold is lazy) nor know which model calls it.
 */
import type { WeightsFile } from '../checkpoint';
import type { GraphBuilder } from '../onnx/builder';
import { attr, lazyTensor } from '../onnx/ir';
import { bytesOf } from './folding';
import { int64s, op, reduce, scalar } from './graph-ops';
import { maskView, toSlots, type ReceiverSet } from './receiver-set';
import { fileInitializers } from './state-dict-layers';

export interface AttentionShape {
  /** D: the embedding width (`in_proj_weight` is [3D, D]). */
  readonly embedDim: number;
  /** h: the number of heads; D/h is each head's width. */
  readonly heads: number;
}

export interface SelfAttention {
  /** [N·B, D], slot-major rows (i·B + b): the attention output after `out_proj`. */
  readonly output: string;
  /** [B, N, N] (query, key), the mean over heads of the softmax: only when asked for. */
  readonly weights?: string;
}

/** The state_dict keys of one nn.MultiheadAttention under `prefix`, with their shapes. */
export function attentionShapes(prefix: string, { embedDim: d }: AttentionShape): [string, number[]][] {
  return [
    [`${prefix}.in_proj_weight`, [3 * d, d]],
    [`${prefix}.in_proj_bias`, [3 * d]],
    [`${prefix}.out_proj.weight`, [d, d]],
    [`${prefix}.out_proj.bias`, [d]],
  ];
}

/**
 * Self-attention of the slot-major rows `x` ([N·B, D], receiver-set.ts) within each sample, keys
 * masked by `set`. `prefix` is the module's state_dict prefix (also its node scope).
 */
export function selfAttention(
  b: GraphBuilder,
  weights: WeightsFile,
  prefix: string,
  x: string,
  set: ReceiverSet,
  shape: AttentionShape,
  options: { readonly averageWeights?: boolean } = {},
): SelfAttention {
  const { embedDim, heads } = shape;
  const headDim = embedDim / heads;
  const file = fileInitializers(b, weights);
  const inProj = qScaled(weights, prefix, embedDim, 1 / Math.sqrt(headDim));
  const qkv = b.gemm(`${prefix}/in_proj`, x, b.initializer(inProj.weight), b.initializer(inProj.bias), {
    transB: 1,
  });
  // [N, B, 3h, d] split into Q, K and V, each [N, B, h, d]; the transposes to [B, h, N, d] (and Kᵀ)
  // are the ones onnxruntime folds into its MatMul (transBatch), as in PyTorch's own export.
  const [q, k, v] = b.node(
    'Split',
    [toSlots(b, prefix, qkv, set, [3 * heads, headDim]), int64s(b, [heads, heads, heads])],
    { axis: attr.int(2) },
    { name: `${prefix}/Split`, outputCount: 3 },
  ) as [string, string, string];
  const byHead = (scope: string, t: string) => b.transpose(scope, t, [1, 2, 0, 3]);
  const scores = b.matMul(prefix, byHead(`${prefix}/queries`, q), b.transpose(`${prefix}/keys`, k, [1, 2, 3, 0]));
  const probabilities = op(b, 'Softmax', prefix, [b.add(prefix, scores, keyPaddingBias(b, set))], {
    axis: attr.int(-1),
  });
  const context = b.matMul(`${prefix}/context`, probabilities, byHead(`${prefix}/values`, v));
  const rows = b.reshape(`${prefix}/context`, b.transpose(`${prefix}/context`, context, [2, 0, 1, 3]), [-1, embedDim]);
  const output = b.gemm(
    `${prefix}.out_proj`,
    rows,
    file(`${prefix}.out_proj.weight`),
    file(`${prefix}.out_proj.bias`),
    { transB: 1 },
  );
  if (!options.averageWeights) return { output };
  return { output, weights: reduce(b, 'ReduceMean', `${prefix}/weights`, probabilities, [1], 0) };
}

/**
 * float32 [B, 1, 1, N]: −∞ at masked keys, 0 elsewhere, added to the scores as PyTorch adds the
 * key_padding_mask it turned into a float mask (one Add; a Where on the [B, h, N, N] scores measured
 * 10% slower on TriangulationModel at batch 32).
 */
function keyPaddingBias(b: GraphBuilder, set: ReceiverSet): string {
  const name = '/receivers/key_padding_bias';
  if (b.has(name)) return name;
  const view = maskView(b, set.mask, [1, 2]);
  return op(b, 'Where', '/receivers', [view, scalar(b, 'minus_infinity', -Infinity), scalar(b, 'zero', 0)], {}, name);
}

/** `in_proj_weight` and `in_proj_bias` with the Q rows (the first D) multiplied by `scale`. */
function qScaled(weights: WeightsFile, prefix: string, embedDim: number, scale: number) {
  const scaled = (key: string, dims: number[]) =>
    lazyTensor(`${key}*q_scale`, 'float32', dims, async () => {
      const values = await weights.readFloat32(key);
      const rowWidth = values.length / (3 * embedDim);
      for (let i = 0; i < embedDim * rowWidth; i++) values[i] = (values[i] as number) * scale;
      return bytesOf(values);
    });
  return {
    weight: scaled(`${prefix}.in_proj_weight`, [3 * embedDim, embedDim]),
    bias: scaled(`${prefix}.in_proj_bias`, [3 * embedDim]),
  };
}
