/**
 * Opset-dependent building blocks on top of onnx/builder: LayerNorm over the last axis (the op from
 * its first opset, decomposed before), LayerNorm over channels of an NCHW tensor, exact GELU (the op
 * from its first opset, the erf formula before), and shared scalar constants. Which opset first has
 * an op is onnx/op-schemas.ts's fact, asked through the builder. Decompositions follow the patterns
 * onnxruntime fuses back into one kernel. It must not know about ConvNeXt or checkpoints.
 */
import type { GraphBuilder } from '../onnx/builder';
import { attr, float32Tensor, int64Tensor, type Attributes } from '../onnx/ir';

/** A float32 scalar initializer `/constants/<name>`, added on first use and shared afterwards. */
export function scalar(b: GraphBuilder, name: string, value: number): string {
  const full = `/constants/${name}`;
  return b.has(full) ? full : b.initializer(float32Tensor(full, [], [value]));
}

/** An int64 initializer `/ints/<values>` (axes, split sizes, shape pieces), added on first use and shared afterwards. */
export function int64s(b: GraphBuilder, values: readonly number[]): string {
  const full = `/ints/${values.join('_')}`;
  return b.has(full) ? full : b.initializer(int64Tensor(full, [values.length], values));
}

/** A one-output node `scope/opType` of an op the builder has no helper for; `output` names its value. */
export function op(
  b: GraphBuilder,
  opType: string,
  scope: string,
  inputs: readonly string[],
  attrs: Attributes = {},
  output?: string,
): string {
  const [out] = b.node(opType, inputs, attrs, {
    name: `${scope}/${opType}`,
    ...(output !== undefined ? { outputs: [output] } : {}),
  });
  return out as string;
}

/** The opset from which each reduction takes `axes` as an input instead of an attribute (Operators.md). */
const AXES_INPUT_SINCE = { ReduceSum: 13, ReduceMax: 18, ReduceMean: 18 } as const;

/** ReduceSum, ReduceMax or ReduceMean over `axes`, with `axes` where this graph's opset wants it. */
export function reduce(
  b: GraphBuilder,
  opType: keyof typeof AXES_INPUT_SINCE,
  scope: string,
  x: string,
  axes: readonly number[],
  keepdims: 0 | 1,
  output?: string,
): string {
  const keep = attr.int(keepdims);
  if (b.opset >= AXES_INPUT_SINCE[opType])
    return op(b, opType, scope, [x, int64s(b, axes)], { keepdims: keep }, output);
  return op(b, opType, scope, [x], { axes: attr.ints(axes), keepdims: keep }, output);
}

/** LayerNorm over the last axis with affine `scale`/`bias` (initializer names). */
export function layerNormLastAxis(
  b: GraphBuilder,
  scope: string,
  x: string,
  scale: string,
  bias: string,
  epsilon: number,
): string {
  // Below LayerNormalization's first opset (op-schemas.ts: 17), the mean/variance formula.
  if (b.supports('LayerNormalization')) return b.layerNormalization(scope, x, scale, bias, { axis: -1, epsilon });
  const mean = b.reduceMean(scope, x, [-1]);
  const centred = b.sub(scope, x, mean);
  const squares = b.pow(scope, centred, scalar(b, 'two', 2));
  const variance = b.reduceMean(scope, squares, [-1]);
  const std = b.sqrt(scope, b.add(scope, variance, scalar(b, `epsilon_${epsilon}`, epsilon)));
  return b.add(scope, b.mul(scope, b.div(scope, centred, std), scale), bias);
}

/** LayerNorm over the channels of NCHW `x`, left in NHWC (the two layouts below transpose it back). */
function layerNormToNhwc(
  b: GraphBuilder,
  scope: string,
  x: string,
  scale: string,
  bias: string,
  epsilon: number,
): string {
  return layerNormLastAxis(b, scope, b.transpose(scope, x, [0, 2, 3, 1]), scale, bias, epsilon);
}

/** LayerNorm over the channel axis of NCHW (torchvision's LayerNorm2d and the block's norm): NHWC round trip. */
export function layerNormChannels(
  b: GraphBuilder,
  scope: string,
  x: string,
  scale: string,
  bias: string,
  epsilon: number,
): string {
  return b.transpose(scope, layerNormToNhwc(b, scope, x, scale, bias, epsilon), [0, 3, 1, 2]);
}

/** Exact (erf) GELU. */
export function gelu(b: GraphBuilder, scope: string, x: string): string {
  // Below Gelu's first opset (op-schemas.ts: 20), 0.5·x·(1+erf(x/√2)), exactly torch's default nn.GELU.
  if (b.supports('Gelu')) return b.gelu(scope, x);
  const erf = b.erf(scope, b.div(scope, x, scalar(b, 'sqrt_2', Math.SQRT2)));
  return b.mul(scope, b.mul(scope, x, b.add(scope, erf, scalar(b, 'one', 1))), scalar(b, 'half', 0.5));
}

/**
 * LayerNorm over the channels of NCHW `x` whose result is laid out as one image `[1, C, N·H, W]`:
 * the batch stacked along the height. A 1×1 Conv on that image is the same pointwise layer, but
 * onnxruntime then streams its weights once per call instead of once per image (see
 * ConvNeXt's blocks in localizationnet/graph.ts). `unstackBatch` restores `[N, C, H, W]`.
 */
export function layerNormChannelsBatchStacked(
  b: GraphBuilder,
  scope: string,
  x: string,
  scale: string,
  bias: string,
  epsilon: number,
  channels: number,
  width: number,
): string {
  const cnhw = b.transpose(scope, layerNormToNhwc(b, scope, x, scale, bias, epsilon), [3, 0, 1, 2]);
  return b.reshape(scope, cnhw, [1, channels, -1, width]);
}

/** `[1, C, N·H, W]` (layerNormChannelsBatchStacked) back to `[N, C, H, W]`. */
export function unstackBatch(
  b: GraphBuilder,
  scope: string,
  x: string,
  channels: number,
  height: number,
  width: number,
): string {
  return b.transpose(scope, b.reshape(scope, x, [channels, -1, height, width]), [1, 0, 2, 3]);
}
