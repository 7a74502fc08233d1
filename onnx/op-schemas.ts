/**
 * The ai.onnx operators this tool knows, with what the checker needs of their schemas: since which
 * opset they exist, how many inputs/outputs they take, and their attributes (type, required). The
 * table covers the ops models/ emits, what quantize/ writes, every op torch's TorchScript and dynamo
 * exporters write for the Heimdall models at opsets 14–20 (test/fixtures/torch-export-ops.json),
 * and common ones; it is exact for opsets 13–23 (test/integration/op-schemas-agreement.test.ts
 * compares it with the onnx package's own schemas). An op missing from it is reported as unknown:
 * the checker never vouches for an op it does not know (the pipeline then has onnxruntime load it).
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
/** A Reduce* op: `axes` an attribute until opset 18, an optional int64 input from 18 (ReduceSum: from 13). */
const reduction = (opType: string): OpSchema[] => [
  op(opType, 1, [1, 1], [1, 1], { axes: ints, keepdims: int }),
  op(opType, 18, [1, 2], [1, 1], { keepdims: int, noop_with_empty_axes: int }),
];

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
  op('Reshape', 5, [2, 2], [1, 1]),
  op('Reshape', 14, [2, 2], [1, 1], { allowzero: int }),
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
  op('QuantizeLinear', 21, [2, 3], [1, 1], { axis: int, block_size: int, output_dtype: int, saturate: int }),
  op('QuantizeLinear', 23, [2, 3], [1, 1], {
    axis: int,
    block_size: int,
    output_dtype: int,
    precision: int,
    saturate: int,
  }),
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
  // What torch's exporters write for HeimdallNet, TriangulationModel and IQResNet18 (census), beyond the above.
  unary('Atan', 7),
  unary('Cos', 7),
  unary('Sin', 7),
  unary('Not'),
  binary('Greater', 7),
  binary('Less', 7),
  op('Mod', 10, [2, 2], [1, 1], { fmod: int }),
  op('ConstantOfShape', 9, [1, 1], [1, 1], { value: { type: 'tensor' } }),
  ...reduction('ReduceMax'),
  ...reduction('ReduceProd'),
  ...reduction('ReduceL2'),
  // Common in exported graphs of attention, pooling and masking.
  ...reduction('ReduceMin'),
  ...reduction('ReduceL1'),
  ...reduction('ReduceSumSquare'),
  ...reduction('ReduceLogSumExp'),
  binary('And', 7),
  binary('Or', 7),
  binary('Xor', 7),
  binary('GreaterOrEqual', 12),
  binary('LessOrEqual', 12),
  op('Split', 13, [1, 2], [1, V], { axis: int }),
  op('Split', 18, [1, 2], [1, V], { axis: int, num_outputs: int }),
  binary('Tile', 6),
  op('Range', 11, [3, 3], [1, 1]),
  unary('Sign', 9),
  unary('Floor', 6),
  unary('Ceil', 6),
  unary('Round', 11),
  unary('IsNaN', 9),
  op('IsInf', 10, [1, 1], [1, 1], { detect_negative: int, detect_positive: int }),
  op('CumSum', 11, [2, 2], [1, 1], { exclusive: int, reverse: int }),
  op('Einsum', 12, [1, V], [1, 1], { equation: { type: 'string', required: true } }),
  op('ArgMax', 12, [1, 1], [1, 1], { axis: int, keepdims: int, select_last_index: int }),
  op('ArgMin', 12, [1, 1], [1, 1], { axis: int, keepdims: int, select_last_index: int }),
  op('Pad', 11, [2, 3], [1, 1], { mode: str }),
  op('Pad', 18, [2, 4], [1, 1], { mode: str }),
  binary('CastLike', 15),
  op('CastLike', 19, [2, 2], [1, 1], { saturate: int }),
  op('Sum', 6, [1, V], [1, 1]),
  op('Mean', 6, [1, V], [1, 1]),
  op('Elu', 6, [1, 1], [1, 1], { alpha: float }),
  op('Selu', 6, [1, 1], [1, 1], { alpha: float, gamma: float }),
  op('Trilu', 14, [1, 2], [1, 1], { upper: int }),
  op('ScatterND', 11, [3, 3], [1, 1]),
  op('ScatterND', 16, [3, 3], [1, 1], { reduction: str }),
  op('ScatterElements', 11, [3, 3], [1, 1], { axis: int }),
  op('ScatterElements', 16, [3, 3], [1, 1], { axis: int, reduction: str }),
  op('GatherElements', 11, [2, 2], [1, 1], { axis: int }),
  unary('Size'),
  unary('NonZero', 9),
  op('TopK', 11, [2, 2], [2, 2], { axis: int, largest: int, sorted: int }),
  unary('HardSwish', 14),
  binary('PRelu', 6),
  op('LogSoftmax', 1, [1, 1], [1, 1], { axis: int }),
  unary('Tan', 7),
  unary('Asin', 7),
  unary('Acos', 7),
  op('InstanceNormalization', 6, [3, 3], [1, 1], { epsilon: float }),
  unary('Softsign'),
  unary('Mish', 18),
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

/** The first opset in which `opType` exists (the builder and models/ use it to pick an op or its decomposition). */
export function firstOpset(opType: string): number {
  const since = BY_OP.get(opType)?.[0]?.since;
  if (since === undefined) throw new Error(`internal: no schema for ${opType}`);
  return since;
}

export function knownOpTypes(): string[] {
  return [...BY_OP.keys()].sort();
}
