/**
 * The building blocks HeimdallNet's graph modules share: a node of any op named `scope/Op`, the
 * opset-dependent reductions, shared int64 constants, SiLU, and the state_dict's layers (Linear as
 * Gemm, LayerNorm, GELU) read as file-range initializers named after their keys. It must not know the
 * network's layout (weights.ts) nor read tensor data.
 */
import type { WeightsFile } from '../../checkpoint';
import type { GraphBuilder } from '../../onnx/builder';
import { attr, fileTensor, int64Tensor, type Attributes } from '../../onnx/ir';
import { gelu, layerNormLastAxis } from '../graph-ops';

/** nn.LayerNorm's default epsilon: every LayerNorm in HeimdallNet is `nn.LayerNorm(c)`. */
export const LAYER_NORM_EPSILON = 1e-5;

/** What every part of the build needs: the builder and the weights. */
export interface Layers {
  readonly b: GraphBuilder;
  readonly weights: WeightsFile;
}

/** A one-output node `scope/opType` (`scope/opType_1`, … when repeated). */
export function op(b: GraphBuilder, opType: string, scope: string, inputs: readonly string[], attrs: Attributes = {}) {
  const [out] = b.node(opType, inputs, attrs, { name: `${scope}/${opType}` });
  return out as string;
}

/** Concat of `xs` along `axis`. */
export function concat(b: GraphBuilder, scope: string, xs: readonly string[], axis: number): string {
  return op(b, 'Concat', scope, xs, { axis: attr.int(axis) });
}

/** An int64 initializer `/<kind>/<values>` shared by every node that needs the same values. */
export function int64Constant(b: GraphBuilder, kind: string, values: readonly number[]): string {
  const name = `/${kind}/${values.join('x')}`;
  return b.has(name) ? name : b.initializer(int64Tensor(name, [values.length], values));
}

/** A Reduce* op over `axes`: an int64 input from opset 18 (ReduceSum: 13), an attribute before. */
export function reduce(
  b: GraphBuilder,
  opType: 'ReduceSum' | 'ReduceMax' | 'ReduceMean' | 'ReduceSumSquare',
  scope: string,
  x: string,
  axes: readonly number[],
  keepdims: 0 | 1,
): string {
  const keep = { keepdims: attr.int(keepdims) };
  if (b.opset >= 18 || opType === 'ReduceSum') return op(b, opType, scope, [x, int64Constant(b, 'axes', axes)], keep);
  return op(b, opType, scope, [x], { ...keep, axes: attr.ints(axes) });
}

export function unsqueeze(b: GraphBuilder, scope: string, x: string, axes: readonly number[]): string {
  return op(b, 'Unsqueeze', scope, [x, int64Constant(b, 'axes', axes)]);
}

/** `x[..., start:end]` on `axis`. */
export function slice(b: GraphBuilder, scope: string, x: string, axis: number, start: number, end: number): string {
  const [s, e, a] = [
    int64Constant(b, 'starts', [start]),
    int64Constant(b, 'ends', [end]),
    int64Constant(b, 'axes', [axis]),
  ];
  return op(b, 'Slice', scope, [x, s, e, a]);
}

/** SiLU = x·sigmoid(x), the pattern onnxruntime fuses into one kernel (QuickGelu with alpha 1). */
export function silu(b: GraphBuilder, scope: string, x: string): string {
  return b.mul(scope, x, op(b, 'Sigmoid', scope, [x]));
}

/** The state_dict tensor `key` as an initializer of the same name (its file range; `dims` may reshape it). */
export function stateTensor({ b, weights }: Layers, key: string, dims?: readonly number[]): string {
  if (b.has(key)) return key;
  const t = weights.require(key);
  return b.initializer(fileTensor(key, 'float32', dims ?? t.shape, weights.path, t.offset, t.length));
}

/** nn.Linear `prefix` on the rows of 2-D `x`: Gemm with the state_dict's (out, in) weight, transB. */
export function linear(layers: Layers, prefix: string, x: string, output?: string): string {
  const w = stateTensor(layers, `${prefix}.weight`);
  return layers.b.gemm(prefix, x, w, stateTensor(layers, `${prefix}.bias`), {
    transB: 1,
    ...(output !== undefined ? { output } : {}),
  });
}

/** nn.LayerNorm `prefix` over the last axis. */
export function layerNorm(layers: Layers, prefix: string, x: string): string {
  const [scale, bias] = [stateTensor(layers, `${prefix}.weight`), stateTensor(layers, `${prefix}.bias`)];
  return layerNormLastAxis(layers.b, prefix, x, scale, bias, LAYER_NORM_EPSILON);
}

/** Linear `${prefix}.${i}` → LayerNorm `${prefix}.${i + 1}` → GELU: the Sequential HeimdallNet repeats. */
export function linearNormGelu(layers: Layers, prefix: string, x: string, i = 0): string {
  const normed = layerNorm(layers, `${prefix}.${i + 1}`, linear(layers, `${prefix}.${i}`, x));
  return gelu(layers.b, `${prefix}.${i + 2}`, normed);
}
