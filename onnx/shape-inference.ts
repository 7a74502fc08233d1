/**
 * Shape and type inference over the IR, with symbolic dimensions: from the graph inputs through
 * every node, one function per op (named after it), ONNX's rules and defaults. `batch_size` stays
 * `batch_size` through Conv, LayerNorm, MatMul, Flatten and Gemm, so the checker can compare the
 * inferred `positions [batch_size, 2]` with what the graph declares.
 *
 * Must not: report structural problems (checker.ts does: undefined inputs just infer nothing here),
 * or read tensor data beyond small integer constants (Reshape shapes, axes inputs).
 * A dimension that cannot be known is '' (unknown); an op without a rule here infers nothing.
 */
import type { Attribute, DataType, Dim, Model, Node, Shape, Tensor } from './ir';
import { dataTypeFromOnnxCode, formatShape } from './ir';
import { lookupSchema } from './op-schemas';
import { readSmallTensorSync } from './tensor-bytes';

export interface ValueType {
  readonly dtype?: DataType;
  readonly shape?: Shape;
}

export interface InferenceProblem {
  readonly node: string;
  readonly opType: string;
  readonly message: string;
  /** The offending input's value name, when one input is to blame. */
  readonly input?: string;
}

export interface InferenceResult {
  /** Every value whose type is known: graph inputs, initializers and node outputs. */
  readonly types: ReadonlyMap<string, ValueType>;
  readonly problems: readonly InferenceProblem[];
}

/** Integer constants larger than this are not read for inference (they are weights, not shapes). */
const MAX_CONSTANT_BYTES = 64 * 1024;

/** Thrown inside an op rule; becomes an InferenceProblem naming the node. */
class RuleError extends Error {
  constructor(
    message: string,
    readonly input?: string,
  ) {
    super(message);
  }
}

interface Ctx {
  readonly node: Node;
  readonly opset: number;
  readonly inputs: readonly (ValueType | undefined)[];
  /** Integer values of input `i` if it is a small constant (initializer or Constant output). */
  ints(i: number): number[] | undefined;
}

// ---- dimension arithmetic -------------------------------------------------------------------

const UNKNOWN: Dim = '';

/** Numpy-style broadcast of two dims; throws on two different static sizes. */
function broadcastDim(a: Dim, b: Dim, where: () => string): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number')
    throw new RuleError(`${where()}: dimensions ${a} and ${b} do not broadcast`);
  if (typeof a === 'number') return a; // a symbol broadcast against n must be n (or 1)
  if (typeof b === 'number') return b;
  return UNKNOWN;
}

function broadcastShapes(shapes: readonly Shape[], names: readonly string[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k >= 0)
        d = broadcastDim(
          d,
          s[k] as Dim,
          () => `inputs ${names.map((n, j) => `'${n}' ${formatShape(shapes[j])}`).join(' and ')} at axis ${i}`,
        );
    }
    out.push(d);
  }
  return out;
}

/**
 * A symbolic dim may be a multiple of one symbol, written `batch_size*16` (a Reshape that folds the
 * batch into a spatial axis makes one). `symbolMultiple` writes it, `monomial` reads dims back as a
 * number times a list of plain symbols, so such a multiple cancels when the batch is unfolded.
 */
function symbolMultiple(symbol: string, factor: number): Dim {
  return factor === 1 ? symbol : `${symbol}*${factor}`;
}
const MULTIPLE = /^(.+)\*(\d+)$/;
function monomial(dims: readonly Dim[]): { factor: number; symbols: string[] } {
  let factor = 1;
  const symbols: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') {
      factor *= d;
      continue;
    }
    const m = MULTIPLE.exec(d);
    symbols.push(m ? (m[1] as string) : d);
    if (m) factor *= Number(m[2]);
  }
  return { factor, symbols };
}

/** Product of dims: a number, the single symbol if exactly one symbolic dim times 1s, else unknown. */
function product(dims: readonly Dim[]): Dim {
  let n = 1;
  const symbols: Dim[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else symbols.push(d);
  }
  if (symbols.length === 0) return n;
  if (symbols.length === 1 && n === 1 && symbols[0] !== '') return symbols[0] as Dim;
  return n === 0 ? 0 : UNKNOWN;
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RuleError(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

// ---- attribute access -----------------------------------------------------------------------

function attrInt(n: Node, name: string, dflt: number): number {
  const a = n.attributes[name];
  return a?.type === 'int' ? a.value : dflt;
}
function attrInts(n: Node, name: string): readonly number[] | undefined {
  const a = n.attributes[name];
  return a?.type === 'ints' ? a.value : undefined;
}
function attrString(n: Node, name: string, dflt: string): string {
  const a = n.attributes[name];
  return a?.type === 'string' ? a.value : dflt;
}

function input(ctx: Ctx, i: number): ValueType & { shape: Shape } {
  const t = ctx.inputs[i];
  if (t?.shape === undefined) throw new Unknown();
  return t as ValueType & { shape: Shape };
}

/** Not an error: an input's shape is unknown, so nothing is inferred for this node. */
class Unknown extends Error {}

function name(ctx: Ctx, i: number): string {
  return ctx.node.inputs[i] ?? '';
}

function sameType(ctx: Ctx, indices: readonly number[]): DataType | undefined {
  let dtype: DataType | undefined;
  for (const i of indices) {
    const t = ctx.inputs[i]?.dtype;
    if (t === undefined) continue;
    if (dtype !== undefined && t !== dtype) {
      throw new RuleError(`input ${i} '${name(ctx, i)}' is ${t}, but earlier inputs are ${dtype}`, name(ctx, i));
    }
    dtype = t;
  }
  return dtype;
}

// ---- op rules: each returns the output types in order ------------------------------------------

type Rule = (ctx: Ctx) => (ValueType | undefined)[];

function elementwise(ctx: Ctx): ValueType[] {
  const present = ctx.node.inputs.map((_, i) => i).filter((i) => name(ctx, i) !== '');
  const dtype = sameType(ctx, present);
  const shapes = present.map((i) => input(ctx, i).shape);
  return [
    {
      dtype,
      shape: broadcastShapes(
        shapes,
        present.map((i) => name(ctx, i)),
      ),
    },
  ];
}

function sameAsInput(ctx: Ctx): ValueType[] {
  const x = ctx.inputs[0];
  return [{ dtype: x?.dtype, shape: x?.shape }];
}

function conv(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const w = input(ctx, 1);
  const dtype = sameType(
    ctx,
    [0, 1, 2].filter((i) => name(ctx, i) !== ''),
  );
  const spatial = x.shape.length - 2;
  if (spatial < 1)
    throw new RuleError(`input 0 '${name(ctx, 0)}' ${formatShape(x.shape)} needs rank 3 or more`, name(ctx, 0));
  if (w.shape.length !== x.shape.length) {
    throw new RuleError(
      `weight '${name(ctx, 1)}' ${formatShape(w.shape)} must have the rank of input ${formatShape(x.shape)}`,
      name(ctx, 1),
    );
  }
  const group = attrInt(ctx.node, 'group', 1);
  const [c, wc] = [x.shape[1] as Dim, w.shape[1] as Dim];
  if (typeof c === 'number' && typeof wc === 'number' && c !== wc * group) {
    throw new RuleError(
      `input has ${c} channels, weight '${name(ctx, 1)}' ${formatShape(w.shape)} with group ${group} expects ${wc * group}`,
      name(ctx, 1),
    );
  }
  const kernel = attrInts(ctx.node, 'kernel_shape') ?? w.shape.slice(2);
  const strides = attrInts(ctx.node, 'strides') ?? Array<number>(spatial).fill(1);
  const dilations = attrInts(ctx.node, 'dilations') ?? Array<number>(spatial).fill(1);
  const pads = attrInts(ctx.node, 'pads') ?? Array<number>(2 * spatial).fill(0);
  const autoPad = attrString(ctx.node, 'auto_pad', 'NOTSET');
  for (const [what, v, n] of [
    ['kernel_shape', kernel, spatial],
    ['strides', strides, spatial],
    ['dilations', dilations, spatial],
    ['pads', pads, 2 * spatial],
  ] as const) {
    if (v.length !== n) throw new RuleError(`attribute '${what}' has ${v.length} values, expected ${n}`);
  }
  const out: Dim[] = [x.shape[0] as Dim, w.shape[0] as Dim];
  for (let i = 0; i < spatial; i++) {
    const d = x.shape[i + 2] as Dim;
    const k = kernel[i] as Dim;
    const s = strides[i] as number;
    if (typeof d !== 'number' || typeof k !== 'number') {
      // A symbolic axis keeps its symbol only through a kernel that cannot change its size.
      const identity = k === 1 && s === 1 && autoPad !== 'VALID' && !pads[i] && !pads[i + spatial];
      out.push(typeof d === 'string' && d !== '' && identity ? d : UNKNOWN);
      continue;
    }
    const effective = (k - 1) * (dilations[i] as number) + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(d / s));
    else if (autoPad === 'VALID') out.push(Math.floor((d - effective) / s) + 1);
    else {
      const size = Math.floor((d + (pads[i] as number) + (pads[i + spatial] as number) - effective) / s) + 1;
      if (size < 1) throw new RuleError(`spatial axis ${i + 2}: input ${d} with kernel ${k} gives output size ${size}`);
      out.push(size);
    }
  }
  return [{ dtype, shape: out }];
}

function layerNormalization(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const dtype = sameType(
    ctx,
    [0, 1, 2].filter((i) => name(ctx, i) !== ''),
  );
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.shape.length, "attribute 'axis'");
  const normalized = x.shape.slice(axis);
  for (const i of [1, 2]) {
    const s = ctx.inputs[i]?.shape;
    if (s === undefined || name(ctx, i) === '') continue;
    // Scale and bias broadcast to the normalized dims.
    broadcastShapes([normalized, s], ['normalized dims of the input', name(ctx, i)]);
  }
  const stats: Dim[] = x.shape.map((d, i) => (i < axis ? d : 1));
  return [
    { dtype, shape: x.shape },
    { dtype: 'float32', shape: stats },
    { dtype: 'float32', shape: stats },
  ];
}

function reduce(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const fromInput = ctx.opset >= 18 || (ctx.node.opType === 'ReduceSum' && ctx.opset >= 13);
  let axes: readonly number[] | undefined;
  if (fromInput) {
    if (name(ctx, 1) !== '') {
      axes = ctx.ints(1);
      if (axes === undefined) return [{ dtype: x.dtype }]; // axes only known at run time
    }
  } else axes = attrInts(ctx.node, 'axes');
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  const all = axes === undefined || (axes.length === 0 && attrInt(ctx.node, 'noop_with_empty_axes', 0) === 0);
  if (axes !== undefined && axes.length === 0 && !all) return [{ dtype: x.dtype, shape: x.shape }];
  const reduced = new Set(
    all ? x.shape.map((_, i) => i) : (axes ?? []).map((a) => normAxis(a, x.shape.length, 'axis')),
  );
  const shape = x.shape.flatMap((d, i) => (reduced.has(i) ? (keep ? [1] : []) : [d]));
  return [{ dtype: x.dtype, shape }];
}

function transpose(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const rank = x.shape.length;
  const perm = attrInts(ctx.node, 'perm') ?? x.shape.map((_, i) => rank - 1 - i);
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
    throw new RuleError(
      `attribute 'perm' [${perm.join(', ')}] is not a permutation of the ${rank} axes of '${name(ctx, 0)}' ${formatShape(x.shape)}`,
    );
  }
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p] as Dim) }];
}

function matMul(ctx: Ctx): ValueType[] {
  const dtype = sameType(ctx, [0, 1]);
  const a = input(ctx, 0).shape;
  const b = input(ctx, 1).shape;
  if (a.length === 0 || b.length === 0) throw new RuleError('MatMul inputs must not be scalars');
  const a2 = a.length === 1 ? [1, a[0] as Dim] : a;
  const b2 = b.length === 1 ? [b[0] as Dim, 1] : b;
  const k1 = a2[a2.length - 1] as Dim;
  const k2 = b2[b2.length - 2] as Dim;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new RuleError(
      `inner dimensions differ: '${name(ctx, 0)}' ${formatShape(a)} × '${name(ctx, 1)}' ${formatShape(b)}`,
      name(ctx, 1),
    );
  }
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)], [name(ctx, 0), name(ctx, 1)]);
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2] as Dim);
  if (b.length > 1) out.push(b2[b2.length - 1] as Dim);
  return [{ dtype, shape: out }];
}

function gemm(ctx: Ctx): ValueType[] {
  const dtype = sameType(
    ctx,
    [0, 1, 2].filter((i) => name(ctx, i) !== ''),
  );
  const a = input(ctx, 0).shape;
  const b = input(ctx, 1).shape;
  if (a.length !== 2 || b.length !== 2)
    throw new RuleError(`Gemm needs 2-D inputs, got ${formatShape(a)} and ${formatShape(b)}`);
  const [m, k1] = attrInt(ctx.node, 'transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
  const [k2, n] = attrInt(ctx.node, 'transB', 0) ? [b[1], b[0]] : [b[0], b[1]];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new RuleError(
      `inner dimensions differ: '${name(ctx, 0)}' ${formatShape(a)} × '${name(ctx, 1)}' ${formatShape(b)} (transA ${attrInt(ctx.node, 'transA', 0)}, transB ${attrInt(ctx.node, 'transB', 0)}): ${k1} vs ${k2}`,
      name(ctx, 1),
    );
  }
  const out: Shape = [m as Dim, n as Dim];
  const c = name(ctx, 2) !== '' ? ctx.inputs[2]?.shape : undefined;
  if (c !== undefined) {
    // C must broadcast to [M, N] without growing it (unidirectional).
    const bc = broadcastShapes([out, c], ['the product', name(ctx, 2)]);
    if (bc.length !== 2 || bc.some((d, i) => typeof d === 'number' && typeof out[i] === 'number' && d !== out[i])) {
      throw new RuleError(
        `bias '${name(ctx, 2)}' ${formatShape(c)} does not broadcast to ${formatShape(out)}`,
        name(ctx, 2),
      );
    }
  }
  return [{ dtype, shape: out }];
}

function globalPool(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i < 2 ? d : 1)) }];
}

function flatten(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const rank = x.shape.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank)
    throw new RuleError(`attribute 'axis' ${attrInt(ctx.node, 'axis', 1)} is out of range for rank ${rank}`);
  return [{ dtype: x.dtype, shape: [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))] }];
}

function reshape(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const target = ctx.ints(1);
  if (target === undefined) return [{ dtype: x.dtype }];
  const allowzero = attrInt(ctx.node, 'allowzero', 0) === 1;
  const out: Dim[] = target.map((t, i) => (t === 0 && !allowzero ? (x.shape[i] ?? UNKNOWN) : t));
  const minusOne = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1)
    throw new RuleError(`shape [${target.join(', ')}] has more than one -1`, name(ctx, 1));
  if (minusOne >= 0) {
    // Solve for -1: numbers divide, symbols cancel (batch_size × 768 → [-1, 768] gives batch_size;
    // [C, batch_size, H, W] → [1, C, -1, W] gives the multiple `batch_size*H`, and back again).
    const source = monomial(x.shape);
    const rest = monomial(out.filter((_, i) => i !== minusOne));
    const left = [...source.symbols];
    for (const s of rest.symbols) {
      const k = left.indexOf(s);
      if (k >= 0 && s !== '') left.splice(k, 1);
      else left.push('?');
    }
    const ratio = source.factor / rest.factor;
    if (left.length === 0) {
      if (!Number.isInteger(ratio))
        throw new RuleError(`cannot reshape ${formatShape(x.shape)} to [${target.join(', ')}]`, name(ctx, 1));
      out[minusOne] = ratio;
    } else {
      const symbol = left[0] as string;
      const known = left.length === 1 && symbol !== '?' && symbol !== '' && Number.isInteger(ratio) && ratio >= 1;
      out[minusOne] = known ? symbolMultiple(symbol, ratio) : UNKNOWN;
    }
  } else if (x.shape.every((d) => typeof d === 'number') && out.every((d) => typeof d === 'number')) {
    const a = product(x.shape);
    const b = product(out);
    if (a !== b)
      throw new RuleError(
        `cannot reshape ${formatShape(x.shape)} (${a} elements) to ${formatShape(out)} (${b} elements)`,
        name(ctx, 1),
      );
  }
  return [{ dtype: x.dtype, shape: out }];
}

function tensorValueType(t: Tensor): ValueType {
  return { dtype: t.dtype, shape: t.dims };
}

function constant(ctx: Ctx): ValueType[] {
  const a = ctx.node.attributes;
  const v = a['value'];
  if (v?.type === 'tensor') return [tensorValueType(v.value)];
  if (a['value_float']) return [{ dtype: 'float32', shape: [] }];
  if (a['value_int']) return [{ dtype: 'int64', shape: [] }];
  const floats = a['value_floats'];
  if (floats?.type === 'floats') return [{ dtype: 'float32', shape: [floats.value.length] }];
  const ints = a['value_ints'];
  if (ints?.type === 'ints') return [{ dtype: 'int64', shape: [ints.value.length] }];
  throw new RuleError('Constant needs exactly one of value, value_float, value_floats, value_int, value_ints');
}

function cast(ctx: Ctx): ValueType[] {
  if (ctx.node.attributes['to'] === undefined) throw new Unknown(); // the checker reports the missing attribute
  const to = attrInt(ctx.node, 'to', 0);
  const dtype = dataTypeFromOnnxCode(to);
  if (dtype === undefined) throw new RuleError(`attribute 'to' ${to} is not an element type this tool supports`);
  return [{ dtype, shape: ctx.inputs[0]?.shape }];
}

function concat(ctx: Ctx): ValueType[] {
  const shapes = ctx.node.inputs.map((_, i) => input(ctx, i).shape);
  const dtype = sameType(
    ctx,
    ctx.node.inputs.map((_, i) => i),
  );
  const rank = (shapes[0] as Shape).length;
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), rank, "attribute 'axis'");
  const out: Dim[] = [...(shapes[0] as Shape)];
  let sum: Dim = 0;
  shapes.forEach((s, i) => {
    if (s.length !== rank)
      throw new RuleError(
        `input ${i} '${name(ctx, i)}' ${formatShape(s)} has rank ${s.length}, input 0 has ${rank}`,
        name(ctx, i),
      );
    const d = s[axis] as Dim;
    sum = typeof sum === 'number' && typeof d === 'number' ? sum + d : UNKNOWN;
    s.forEach((di, j) => {
      if (j !== axis) out[j] = broadcastDimStrict(out[j] as Dim, di, () => `input ${i} '${name(ctx, i)}' axis ${j}`);
    });
  });
  out[axis] = sum;
  return [{ dtype, shape: out }];
}

/** Two dims that must be equal (no broadcasting). */
function broadcastDimStrict(a: Dim, b: Dim, where: () => string): Dim {
  if (typeof a === 'number' && typeof b === 'number' && a !== b)
    throw new RuleError(`${where()}: ${b} differs from ${a}`);
  return typeof a === 'number' ? a : b;
}

function unsqueeze(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const axes = ctx.ints(1);
  if (axes === undefined) return [{ dtype: x.dtype }];
  const rank = x.shape.length + axes.length;
  const at = new Set(axes.map((a) => normAxis(a, rank, 'axis')));
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : (x.shape[k++] as Dim));
  return [{ dtype: x.dtype, shape: out }];
}

function squeeze(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  if (name(ctx, 1) === '') return [{ dtype: x.dtype, shape: x.shape.filter((d) => d !== 1) }];
  const axes = ctx.ints(1);
  if (axes === undefined) return [{ dtype: x.dtype }];
  const at = new Set(axes.map((a) => normAxis(a, x.shape.length, 'axis')));
  for (const a of at) {
    const d = x.shape[a] as Dim;
    if (typeof d === 'number' && d !== 1) throw new RuleError(`cannot squeeze axis ${a} of size ${d}`);
  }
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !at.has(i)) }];
}

function shape(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const rank = x.shape.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(attrInt(ctx.node, 'start', 0));
  const end = clamp(attrInt(ctx.node, 'end', rank));
  return [{ dtype: 'int64', shape: [Math.max(end - start, 0)] }];
}

function gather(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const idx = input(ctx, 1);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, "attribute 'axis'");
  return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
}

function batchNormalization(ctx: Ctx): ValueType[] {
  return [{ dtype: ctx.inputs[0]?.dtype, shape: ctx.inputs[0]?.shape }];
}

function dropout(ctx: Ctx): ValueType[] {
  const x = ctx.inputs[0];
  return [
    { dtype: x?.dtype, shape: x?.shape },
    { dtype: 'bool', shape: x?.shape },
  ];
}

function comparison(ctx: Ctx): ValueType[] {
  const [out] = elementwise(ctx);
  return [{ dtype: 'bool', shape: out?.shape }];
}

function where(ctx: Ctx): ValueType[] {
  const dtype = sameType(ctx, [1, 2]);
  const shapes = [0, 1, 2].map((i) => input(ctx, i).shape);
  return [
    {
      dtype,
      shape: broadcastShapes(
        shapes,
        [0, 1, 2].map((i) => name(ctx, i)),
      ),
    },
  ];
}

function clip(ctx: Ctx): ValueType[] {
  sameType(
    ctx,
    [0, 1, 2].filter((i) => name(ctx, i) !== ''),
  );
  for (const i of [1, 2]) {
    const s = name(ctx, i) !== '' ? ctx.inputs[i]?.shape : undefined;
    if (s !== undefined && s.length !== 0)
      throw new RuleError(`input ${i} '${name(ctx, i)}' must be a scalar, got ${formatShape(s)}`, name(ctx, i));
  }
  return sameAsInput(ctx);
}

/** QuantizeLinear: the input's shape, in the zero point's type (uint8 without one). */
function quantizeLinear(ctx: Ctx): ValueType[] {
  const zeroPoint = name(ctx, 2) !== '' ? ctx.inputs[2]?.dtype : 'uint8';
  return [{ dtype: zeroPoint, shape: ctx.inputs[0]?.shape }];
}

/** DequantizeLinear: the input's shape, in the scale's type (float32). */
function dequantizeLinear(ctx: Ctx): ValueType[] {
  return [{ dtype: ctx.inputs[1]?.dtype, shape: ctx.inputs[0]?.shape }];
}

/** Same shape as input 0, element type bool (IsNaN, IsInf). */
function boolLikeInput(ctx: Ctx): ValueType[] {
  return [{ dtype: 'bool', shape: ctx.inputs[0]?.shape }];
}

/** CastLike: input 0's shape in input 1's element type. */
function castLike(ctx: Ctx): ValueType[] {
  return [{ dtype: ctx.inputs[1]?.dtype, shape: ctx.inputs[0]?.shape }];
}

/** ConstantOfShape: the shape its (constant) input gives, in its `value`'s type (float32 without one). */
function constantOfShape(ctx: Ctx): ValueType[] {
  const value = ctx.node.attributes['value'];
  const dtype = value?.type === 'tensor' ? value.value.dtype : 'float32';
  const dims = ctx.ints(0);
  return [{ dtype, ...(dims !== undefined ? { shape: dims } : {}) }];
}

/** Expand: input 0 broadcast with the (constant) target shape. */
function expand(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const target = ctx.ints(1);
  if (target === undefined) return [{ dtype: x.dtype }];
  return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, target], [name(ctx, 0), name(ctx, 1)]) }];
}

/** Tile: each axis times its (constant) repeat; a symbolic axis keeps its symbol only when repeated once. */
function tile(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const repeats = ctx.ints(1);
  if (repeats === undefined) return [{ dtype: x.dtype }];
  if (repeats.length !== x.shape.length)
    throw new RuleError(
      `repeats [${repeats.join(', ')}] has ${repeats.length} values, input '${name(ctx, 0)}' ${formatShape(x.shape)} has rank ${x.shape.length}`,
      name(ctx, 1),
    );
  const shape = x.shape.map((d, i) => {
    const r = repeats[i] as number;
    if (typeof d === 'number') return d * r;
    return r === 1 ? d : UNKNOWN;
  });
  return [{ dtype: x.dtype, shape }];
}

/** Range: a 1-D tensor of the start's type, its length known only at run time. */
function range(ctx: Ctx): ValueType[] {
  return [{ dtype: ctx.inputs[0]?.dtype, shape: [UNKNOWN] }];
}

/** Split: the axis divided by the (constant) split sizes, by num_outputs, or evenly among the outputs. */
function split(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, "attribute 'axis'");
  const count = ctx.node.outputs.length;
  const d = x.shape[axis] as Dim;
  let sizes: Dim[] | undefined;
  if (name(ctx, 1) !== '') {
    const given = ctx.ints(1);
    if (given !== undefined) {
      if (given.length !== count)
        throw new RuleError(`split sizes [${given.join(', ')}] name ${given.length} outputs, the node has ${count}`);
      const total = given.reduce((a, b) => a + b, 0);
      if (typeof d === 'number' && total !== d)
        throw new RuleError(
          `split sizes [${given.join(', ')}] add up to ${total}, axis ${axis} has ${d}`,
          name(ctx, 1),
        );
      sizes = given;
    }
  } else if (typeof d === 'number') {
    // Without sizes: equal parts, the last one smaller if the axis does not divide (num_outputs, opset 18).
    const part = Math.ceil(d / count);
    sizes = Array.from({ length: count }, (_, i) => Math.max(Math.min(part, d - i * part), 0));
  }
  return ctx.node.outputs.map((_, i) => ({
    dtype: x.dtype,
    shape: x.shape.map((di, k) => (k === axis ? (sizes?.[i] ?? UNKNOWN) : di)),
  }));
}

/** ArgMax/ArgMin: int64 indices, the axis reduced (kept as 1 unless keepdims is 0). */
function argReduce(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, "attribute 'axis'");
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) }];
}

/** GatherElements: the indices' shape, the data's type. */
function gatherElements(ctx: Ctx): ValueType[] {
  return [{ dtype: ctx.inputs[0]?.dtype, shape: ctx.inputs[1]?.shape }];
}

/**
 * MaxPool and AveragePool without ceil_mode: each spatial axis `floor((d + pads - ((k-1)·dilation+1)) / s) + 1`
 * (SAME and VALID as Conv). With ceil_mode the spatial axes are left unknown rather than guessed.
 */
function pool(ctx: Ctx): ValueType[] {
  const x = input(ctx, 0);
  const spatial = x.shape.length - 2;
  if (spatial < 1)
    throw new RuleError(`input 0 '${name(ctx, 0)}' ${formatShape(x.shape)} needs rank 3 or more`, name(ctx, 0));
  const kernel = attrInts(ctx.node, 'kernel_shape');
  if (kernel === undefined) throw new Unknown(); // the checker reports the missing attribute
  const strides = attrInts(ctx.node, 'strides') ?? Array<number>(spatial).fill(1);
  const dilations = attrInts(ctx.node, 'dilations') ?? Array<number>(spatial).fill(1);
  const pads = attrInts(ctx.node, 'pads') ?? Array<number>(2 * spatial).fill(0);
  const autoPad = attrString(ctx.node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(ctx.node, 'ceil_mode', 0) === 1;
  for (const [what, v, n] of [
    ['kernel_shape', kernel, spatial],
    ['strides', strides, spatial],
    ['dilations', dilations, spatial],
    ['pads', pads, 2 * spatial],
  ] as const) {
    if (v.length !== n) throw new RuleError(`attribute '${what}' has ${v.length} values, expected ${n}`);
  }
  const out: Dim[] = [x.shape[0] as Dim, x.shape[1] as Dim];
  for (let i = 0; i < spatial; i++) {
    const d = x.shape[i + 2] as Dim;
    const s = strides[i] as number;
    const effective = ((kernel[i] as number) - 1) * (dilations[i] as number) + 1;
    if (typeof d !== 'number' || ceil) out.push(UNKNOWN);
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(d / s));
    else if (autoPad === 'VALID') out.push(Math.floor((d - effective) / s) + 1);
    else out.push(Math.floor((d + (pads[i] as number) + (pads[i + spatial] as number) - effective) / s) + 1);
  }
  return [{ dtype: x.dtype, shape: out }];
}

const RULES: Readonly<Record<string, Rule>> = {
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  Add: elementwise,
  Sub: elementwise,
  Mul: elementwise,
  Div: elementwise,
  Pow: (ctx) => [
    {
      dtype: ctx.inputs[0]?.dtype,
      shape: broadcastShapes([input(ctx, 0).shape, input(ctx, 1).shape], [name(ctx, 0), name(ctx, 1)]),
    },
  ],
  Min: elementwise,
  Max: elementwise,
  Sqrt: sameAsInput,
  Erf: sameAsInput,
  Gelu: sameAsInput,
  Relu: sameAsInput,
  Softplus: sameAsInput,
  Identity: sameAsInput,
  Sigmoid: sameAsInput,
  Tanh: sameAsInput,
  Exp: sameAsInput,
  Log: sameAsInput,
  Neg: sameAsInput,
  Abs: sameAsInput,
  Reciprocal: sameAsInput,
  LeakyRelu: sameAsInput,
  HardSigmoid: sameAsInput,
  Softmax: sameAsInput,
  Clip: clip,
  Conv: conv,
  LayerNormalization: layerNormalization,
  ReduceMean: reduce,
  ReduceSum: reduce,
  Transpose: transpose,
  MatMul: matMul,
  Gemm: gemm,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  Flatten: flatten,
  Reshape: reshape,
  Constant: constant,
  Cast: cast,
  Concat: concat,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Shape: shape,
  Gather: gather,
  BatchNormalization: batchNormalization,
  Dropout: dropout,
  Equal: comparison,
  Where: where,
  // Ops torch's exporters write for the Heimdall models, and common ones (op-schemas.ts).
  Atan: sameAsInput,
  Cos: sameAsInput,
  Sin: sameAsInput,
  Tan: sameAsInput,
  Asin: sameAsInput,
  Acos: sameAsInput,
  Sign: sameAsInput,
  Floor: sameAsInput,
  Ceil: sameAsInput,
  Round: sameAsInput,
  Not: sameAsInput,
  Elu: sameAsInput,
  Selu: sameAsInput,
  HardSwish: sameAsInput,
  Softsign: sameAsInput,
  Mish: sameAsInput,
  PRelu: sameAsInput,
  LogSoftmax: sameAsInput,
  Trilu: sameAsInput,
  CumSum: sameAsInput,
  InstanceNormalization: sameAsInput,
  ScatterND: sameAsInput,
  ScatterElements: sameAsInput,
  IsNaN: boolLikeInput,
  IsInf: boolLikeInput,
  Greater: comparison,
  Less: comparison,
  GreaterOrEqual: comparison,
  LessOrEqual: comparison,
  And: comparison,
  Or: comparison,
  Xor: comparison,
  Mod: elementwise,
  Sum: elementwise,
  Mean: elementwise,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceProd: reduce,
  ReduceL1: reduce,
  ReduceL2: reduce,
  ReduceSumSquare: reduce,
  ReduceLogSumExp: reduce,
  ArgMax: argReduce,
  ArgMin: argReduce,
  CastLike: castLike,
  ConstantOfShape: constantOfShape,
  Expand: expand,
  Tile: tile,
  Range: range,
  Split: split,
  GatherElements: gatherElements,
  Size: () => [{ dtype: 'int64', shape: [] }],
  NonZero: (ctx) => [{ dtype: 'int64', shape: [input(ctx, 0).shape.length, UNKNOWN] }],
  MaxPool: (ctx) => {
    const [values] = pool(ctx);
    return [values, { dtype: 'int64', shape: values?.shape }];
  },
  AveragePool: pool,
};

// ---- constants ------------------------------------------------------------------------------

function intsOf(t: Tensor): number[] | undefined {
  if (t.dtype !== 'int64' && t.dtype !== 'int32') return undefined;
  const bytes = t.dims.reduce((a, b) => a * b, 1) * (t.dtype === 'int64' ? 8 : 4);
  if (bytes > MAX_CONSTANT_BYTES) return undefined;
  let raw: Uint8Array | undefined;
  try {
    raw = readSmallTensorSync(t.data, MAX_CONSTANT_BYTES);
  } catch {
    return undefined;
  }
  if (raw === undefined || raw.byteLength !== bytes) return undefined;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  for (let o = 0; o < bytes; o += t.dtype === 'int64' ? 8 : 4) {
    out.push(t.dtype === 'int64' ? Number(view.getBigInt64(o, true)) : view.getInt32(o, true));
  }
  return out;
}

function constantNodeInts(attrs: Readonly<Record<string, Attribute>>): number[] | undefined {
  const v = attrs['value'];
  if (v?.type === 'tensor') return intsOf(v.value);
  const vi = attrs['value_ints'];
  if (vi?.type === 'ints') return [...vi.value];
  const i = attrs['value_int'];
  if (i?.type === 'int') return [i.value];
  return undefined;
}

// ---- the walk -------------------------------------------------------------------------------

/** Infers the type of every value reachable from the graph inputs and initializers, in node order. */
export function inferShapes(model: Model): InferenceResult {
  const g = model.graph;
  const types = new Map<string, ValueType>();
  const constants = new Map<string, () => number[] | undefined>();
  for (const t of g.initializers) {
    types.set(t.name, tensorValueType(t));
    constants.set(t.name, () => intsOf(t));
  }
  // A graph input that shares an initializer's name overrides it (IR ≥ 4): its value can change.
  for (const v of g.inputs) {
    types.set(v.name, { dtype: v.dtype, shape: v.shape });
    constants.delete(v.name);
  }
  const problems: InferenceProblem[] = [];
  for (const node of g.nodes) {
    if (node.domain !== '') continue;
    const rule = RULES[node.opType];
    // An op that doesn't exist at this opset infers nothing (the checker reports it once, not downstream).
    if (rule === undefined || 'problem' in lookupSchema(node.opType, model.opset)) continue;
    const ctx: Ctx = {
      node,
      opset: model.opset,
      inputs: node.inputs.map((n) => (n === '' ? undefined : types.get(n))),
      ints: (i) => constants.get(node.inputs[i] ?? '')?.(),
    };
    let outputs: (ValueType | undefined)[];
    try {
      outputs = rule(ctx);
    } catch (err) {
      if (err instanceof Unknown) continue;
      if (err instanceof RuleError) {
        problems.push({
          node: node.name,
          opType: node.opType,
          message: err.message,
          ...(err.input ? { input: err.input } : {}),
        });
        continue;
      }
      throw err;
    }
    node.outputs.forEach((out, i) => {
      const t = outputs[i];
      if (out !== '' && t !== undefined && !types.has(out)) types.set(out, t);
    });
    if (node.opType === 'Constant') {
      const out = node.outputs[0];
      if (out !== undefined) constants.set(out, () => constantNodeInts(node.attributes));
    }
  }
  return { types, problems };
}
