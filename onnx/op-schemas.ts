/**
 * The ai.onnx operators this tool knows, with what the checker needs of their schemas: since which
 * opset they exist, how many inputs/outputs they take, and their attributes (type, required). The
 * table covers the ops models/ emits plus common ones, and is exact for opsets 13–23; an op
 * missing from it is reported as unknown, so we never vouch for a graph we don't understand.
 *
 * Must not: infer shapes (shape-inference.ts) or report problems (checker.ts); this is data.
 * Source: https://github.com/onnx/onnx/blob/main/docs/Operators.md (since-versions and attributes).
 */
import type { AttributeType } from './ir';

export interface AttributeSchema {
  readonly type: AttributeType;
  readonly required?: boolean;
}

export interface OpSchema {
  readonly opType: string;
  /** The opset version this entry applies from (until the op's next entry). */
  readonly since: number;
  /** Inclusive bounds; `Infinity` for variadic. Omitted optional inputs ('') count toward the position. */
  readonly inputs: readonly [number, number];
  readonly outputs: readonly [number, number];
  readonly attributes: Readonly<Record<string, AttributeSchema>>;
}

const V = Infinity;
const none: Readonly<Record<string, AttributeSchema>> = {};
const int: AttributeSchema = { type: 'int' };
const float: AttributeSchema = { type: 'float' };
const ints: AttributeSchema = { type: 'ints' };
const str: AttributeSchema = { type: 'string' };
const convAttrs = { auto_pad: str, dilations: ints, group: int, kernel_shape: ints, pads: ints, strides: ints };
const poolAttrs = {
  auto_pad: str,
  ceil_mode: int,
  kernel_shape: { type: 'ints', required: true },
  pads: ints,
  strides: ints,
} as const;

function op(
  opType: string,
  since: number,
  inputs: readonly [number, number],
  outputs: readonly [number, number],
  attributes: Readonly<Record<string, AttributeSchema>> = none,
): OpSchema {
  return { opType, since, inputs, outputs, attributes };
}

const unary = (opType: string, since = 1): OpSchema => op(opType, since, [1, 1], [1, 1]);
const binary = (opType: string, since = 1): OpSchema => op(opType, since, [2, 2], [1, 1]);

/** Opset numbers where an op's interface (not just its types) changed are separate entries. */
const SCHEMAS: readonly OpSchema[] = [
  // What models/ emits for LocalizationNet / ConvNeXt.
  op('Conv', 1, [2, 3], [1, 1], convAttrs),
  op('LayerNormalization', 17, [2, 3], [1, 3], { axis: int, epsilon: float, stash_type: int }),
  op('ReduceMean', 1, [1, 1], [1, 1], { axes: ints, keepdims: int }),
  op('ReduceMean', 18, [1, 2], [1, 1], { keepdims: int, noop_with_empty_axes: int }),
  binary('Add'),
  binary('Sub'),
  binary('Mul'),
  binary('Div'),
  binary('Pow'),
  unary('Sqrt'),
  unary('Erf', 9),
  op('Gelu', 20, [1, 1], [1, 1], { approximate: str }),
  op('Transpose', 1, [1, 1], [1, 1], { perm: ints }),
  binary('MatMul'),
  op('Gemm', 1, [2, 3], [1, 1], { alpha: float, beta: float, transA: int, transB: int }),
  unary('Relu'),
  unary('Softplus'),
  op('Clip', 11, [1, 3], [1, 1]),
  op('Min', 1, [1, V], [1, 1]),
  op('Max', 1, [1, V], [1, 1]),
  unary('GlobalAveragePool'),
  op('Flatten', 1, [1, 1], [1, 1], { axis: int }),
  op('Reshape', 5, [2, 2], [1, 1], { allowzero: int }),
  unary('Identity'),
  op('Constant', 1, [0, 0], [1, 1], {
    sparse_value: { type: 'tensor' },
    value: { type: 'tensor' },
    value_float: float,
    value_floats: { type: 'floats' },
    value_int: int,
    value_ints: ints,
    value_string: str,
  }),
  op('Cast', 1, [1, 1], [1, 1], { to: { type: 'int', required: true } }),
  op('Cast', 19, [1, 1], [1, 1], { saturate: int, to: { type: 'int', required: true } }),
  // What quantize/ writes: QDQ int8 graphs (per-channel axis from opset 13).
  op('QuantizeLinear', 10, [2, 3], [1, 1]),
  op('QuantizeLinear', 13, [2, 3], [1, 1], { axis: int }),
  op('QuantizeLinear', 19, [2, 3], [1, 1], { axis: int, saturate: int }),
  op('QuantizeLinear', 21, [2, 3], [1, 1], { axis: int, block_size: int, saturate: int }),
  op('QuantizeLinear', 23, [2, 3], [1, 1], { axis: int, block_size: int, output_dtype: int, saturate: int }),
  op('DequantizeLinear', 10, [2, 3], [1, 1]),
  op('DequantizeLinear', 13, [2, 3], [1, 1], { axis: int }),
  op('DequantizeLinear', 21, [2, 3], [1, 1], { axis: int, block_size: int }),
  op('DequantizeLinear', 23, [2, 3], [1, 1], { axis: int, block_size: int, output_dtype: int }),
  // Common ops, so graphs from other exporters validate too.
  op('BatchNormalization', 9, [5, 5], [1, 5], { epsilon: float, momentum: float }),
  op('BatchNormalization', 14, [5, 5], [1, 3], { epsilon: float, momentum: float, training_mode: int }),
  op('Concat', 1, [1, V], [1, 1], { axis: { type: 'int', required: true } }),
  op('Unsqueeze', 13, [2, 2], [1, 1]),
  op('Squeeze', 13, [1, 2], [1, 1]),
  op('Shape', 1, [1, 1], [1, 1]),
  op('Shape', 15, [1, 1], [1, 1], { end: int, start: int }),
  op('Gather', 1, [2, 2], [1, 1], { axis: int }),
  op('Slice', 10, [3, 5], [1, 1]),
  op('Softmax', 1, [1, 1], [1, 1], { axis: int }),
  op('Dropout', 12, [1, 3], [1, 2], { seed: int }),
  op('ReduceSum', 13, [1, 2], [1, 1], { keepdims: int, noop_with_empty_axes: int }),
  op('MaxPool', 10, [1, 1], [1, 2], { ...poolAttrs, dilations: ints, storage_order: int }),
  op('AveragePool', 11, [1, 1], [1, 1], { ...poolAttrs, count_include_pad: int }),
  op('AveragePool', 19, [1, 1], [1, 1], { ...poolAttrs, count_include_pad: int, dilations: ints }),
  op('GlobalMaxPool', 1, [1, 1], [1, 1]),
  op('Expand', 8, [2, 2], [1, 1]),
  op('Where', 9, [3, 3], [1, 1]),
  binary('Equal', 1),
  unary('Sigmoid'),
  unary('Tanh'),
  unary('Exp'),
  unary('Log'),
  unary('Neg'),
  unary('Abs'),
  unary('Reciprocal'),
  op('LeakyRelu', 1, [1, 1], [1, 1], { alpha: float }),
  op('HardSigmoid', 6, [1, 1], [1, 1], { alpha: float, beta: float }),
];

const BY_OP = new Map<string, OpSchema[]>();
for (const s of SCHEMAS) {
  const list = BY_OP.get(s.opType) ?? [];
  list.push(s);
  list.sort((a, b) => a.since - b.since);
  BY_OP.set(s.opType, list);
}

/** The schema of `opType` at `opset` (ai.onnx), or why there is none. */
export function lookupSchema(
  opType: string,
  opset: number,
): { schema: OpSchema } | { problem: 'unknown-op' | 'not-in-opset'; since?: number } {
  const entries = BY_OP.get(opType);
  if (entries === undefined) return { problem: 'unknown-op' };
  let found: OpSchema | undefined;
  for (const e of entries) if (e.since <= opset) found = e;
  if (found === undefined) return { problem: 'not-in-opset', since: entries[0]?.since };
  return { schema: found };
}

export function knownOpTypes(): string[] {
  return [...BY_OP.keys()].sort();
}
