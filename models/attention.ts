/**
 * nn.MultiheadAttention as the set models call it (TriangulationModel T2, IQResNet18 R5;
 * shared/heimdall-models.md section 0): self-attention over the receivers of each sample, packed
 * `in_proj` weights (rows Q, K, V), h heads of size d = D/h, softmax(Q·Kᵀ/√d + M)·V with M = −∞ at
 * keys the key_padding_mask marks (True = masked), heads concatenated, then `out_proj`; optionally
 * the attention map averaged over heads, [B, N_query, N_key], as `need_weights` returns it.
 * A sample whose keys are all masked gets NaN rows, as PyTorch's does (the models' masked fills
 * decide what survives).
 *
 * Graph shape: rows stay [B·N, D] around the two Gemms (the weights' own row-major layout, transB,
 * so `out_proj` is the file's bytes as they are); 1/√d is folded into the Q rows of `in_proj`
 * (PyTorch scales q before Q·Kᵀ; the fold rounds once, in float64); Q, K and V come from one Gemm,
 * one Reshape to [B, N, 3h, d], one Transpose and one Split, and the mask is one Where on the scores.
 * It must not read tensor data while building (the fold is lazy) nor know which model calls it.
 */
import type { SafetensorsFile } from '../checkpoint';
import type { GraphBuilder } from '../onnx/builder';
import { attr, lazyTensor } from '../onnx/ir';
import { int64s, op, reduce, scalar } from './graph-ops';
import { maskView, toSet, type ReceiverSet } from './receiver-set';
import { fileInitializers } from './state-dict-layers';

export interface AttentionShape {
  /** D: the embedding width (`in_proj_weight` is [3D, D]). */
  readonly embedDim: number;
  /** h: the number of heads; D/h is each head's width. */
  readonly heads: number;
}

export interface SelfAttention {
  /** [B·N, D], rows b·N + i: the attention output after `out_proj`. */
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
 * Self-attention of the rows `x` ([B·N, D]) within each sample, keys masked by `set`. `prefix` is the
 * module's state_dict prefix (also its node scope).
 */
export function selfAttention(
  b: GraphBuilder,
  weights: SafetensorsFile,
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
  const byHead = b.transpose(prefix, toSet(b, prefix, qkv, set, [3 * heads, headDim]), [0, 2, 1, 3]);
  const [q, k, v] = b.node(
    'Split',
    [byHead, int64s(b, [heads, heads, heads])],
    { axis: attr.int(1) },
    {
      name: `${prefix}/Split`,
      outputCount: 3,
    },
  ) as [string, string, string];
  const scores = b.matMul(prefix, q, b.transpose(`${prefix}/keys`, k, [0, 1, 3, 2]));
  const masked = op(b, 'Where', prefix, [maskView(b, set, [1, 2]), scalar(b, 'minus_infinity', -Infinity), scores]);
  const probabilities = op(b, 'Softmax', prefix, [masked], { axis: attr.int(-1) });
  const context = b.transpose(`${prefix}/context`, b.matMul(`${prefix}/context`, probabilities, v), [0, 2, 1, 3]);
  const rows = b.reshape(`${prefix}/context`, context, [-1, embedDim]);
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

/** `in_proj_weight` and `in_proj_bias` with the Q rows (the first D) multiplied by `scale`. */
function qScaled(weights: SafetensorsFile, prefix: string, embedDim: number, scale: number) {
  const scaled = (key: string, dims: number[]) =>
    lazyTensor(`${key}*q_scale`, 'float32', dims, async () => {
      const values = await weights.readFloat32(key);
      const rowWidth = values.length / (3 * embedDim);
      for (let i = 0; i < embedDim * rowWidth; i++) values[i] = (values[i] as number) * scale;
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    });
  return {
    weight: scaled(`${prefix}.in_proj_weight`, [3 * embedDim, embedDim]),
    bias: scaled(`${prefix}.in_proj_bias`, [3 * embedDim]),
  };
}
