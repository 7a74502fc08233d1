/**
 * A typed GraphBuilder: the way models/ turns a state_dict into the IR. It names nodes after the
 * PyTorch module path (`backbone.0.1.0.block.0/Conv`), their outputs `<node>_output_<i>`, and keeps
 * initializer names as given (the state_dict keys).
 *
 * Must not: read tensor bytes, serialize, or check op semantics (onnx/checker.ts does). It does refuse
 * what would make a graph ambiguous at once — an undefined input, a name defined twice — so a bug in
 * models/ fails at the line that caused it. Tests that need broken graphs edit the built Model.
 */
import type { Attribute, Attributes, DataType, Graph, Model, Node, Shape, Tensor, ValueInfo } from './ir';
import { DEFAULT_OPSET } from '../common/export-contract';
import { attr, int64Tensor, irVersionForOpset, ONNX_DTYPE_CODES } from './ir';
import { OnnxInputError } from './onnx-error';
import { firstOpset } from './op-schemas';

export interface NodeOptions {
  /** Node name; `scope/Op` by convention. A repeated name gets `_1`, `_2`, … like PyTorch's exporter. */
  readonly name: string;
  /** Explicit output names (e.g. `positions`); default `<name>_output_<i>`. */
  readonly outputs?: readonly string[];
  /** Number of outputs when `outputs` is not given (default 1). */
  readonly outputCount?: number;
  /** Operator domain; '' (default) is ai.onnx. */
  readonly domain?: string;
}

/** Optional output name for the single-output helpers. */
export interface OutputOption {
  readonly output?: string;
}

export interface BuildOptions {
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly metadataProps?: Readonly<Record<string, string>>;
}

export const DEFAULT_PRODUCER_NAME = 'onnx-export-pipeline';
/**
 * Recorded in every model (`producer_version`). Kept equal to package.json's version (a unit test
 * checks); bump it whenever emitted bytes change for the same bundle, so equal versions mean equal graphs.
 * 0.2.0: the small-image stages stack the batch around their pointwise layers.
 */
export const DEFAULT_PRODUCER_VERSION = '0.2.0';

/** A graph the builder refuses to build: a bug in models/ fails at the line that caused it, typed. */
function graphError(context: { subject: string; expected: string; actual: string }, message: string): OnnxInputError {
  return new OnnxInputError('graph', context, message);
}

/** Drops attributes left undefined so ONNX defaults apply and the file says only what differs. */
function defined(attrs: Readonly<Record<string, Attribute | undefined>>): Attributes {
  const out: Record<string, Attribute> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v;
  return out;
}

const optInt = (v: number | undefined): Attribute | undefined => (v === undefined ? undefined : attr.int(v));
const optFloat = (v: number | undefined): Attribute | undefined => (v === undefined ? undefined : attr.float(v));
const optInts = (v: readonly number[] | undefined): Attribute | undefined =>
  v === undefined ? undefined : attr.ints(v);

export class GraphBuilder {
  readonly opset: number;
  private readonly graphName: string;
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: Tensor[] = [];
  private readonly nodes: Node[] = [];
  private readonly valueInfo: ValueInfo[] = [];
  /** Every value name defined so far (graph inputs, initializers, node outputs) → who defined it. */
  private readonly defined = new Map<string, string>();
  private readonly nodeNames = new Set<string>();
  /** Per base name, the first suffix not yet known to be taken (names are only ever added). */
  private readonly nextSuffix = new Map<string, number>();

  constructor(options: { opset?: number; graphName?: string } = {}) {
    this.opset = options.opset ?? DEFAULT_OPSET;
    irVersionForOpset(this.opset); // refuse an unknown opset now, not at build()
    this.graphName = options.graphName ?? 'main_graph';
  }

  private define(name: string, by: string): void {
    if (name === '')
      throw graphError(
        { subject: by, expected: 'a value name', actual: "''" },
        `${by}: a value name must not be empty`,
      );
    const previous = this.defined.get(name);
    if (previous !== undefined) {
      throw graphError(
        { subject: `value '${name}'`, expected: 'one definition', actual: `${by} and ${previous}` },
        `${by}: value '${name}' is already defined by ${previous}`,
      );
    }
    this.defined.set(name, by);
  }

  has(name: string): boolean {
    return this.defined.has(name);
  }

  input(name: string, dtype: DataType, shape: Shape): string {
    this.define(name, `graph input '${name}'`);
    this.inputs.push({ name, dtype, shape: [...shape] });
    return name;
  }

  /** Adds an initializer and returns its name (the tensor's name). */
  initializer(tensor: Tensor): string {
    this.define(tensor.name, `initializer '${tensor.name}'`);
    this.initializers.push(tensor);
    return tensor.name;
  }

  /** Adds a node and returns its output names. */
  node(opType: string, inputs: readonly string[], attrs: Attributes = {}, options: NodeOptions): string[] {
    const name = this.uniqueNodeName(options.name);
    const by = `node '${name}' (${opType})`;
    inputs.forEach((input, i) => {
      if (input !== '' && !this.defined.has(input)) {
        throw graphError(
          {
            subject: `${by} input ${i} '${input}'`,
            expected: 'a graph input, initializer or earlier output',
            actual: 'undefined',
          },
          `${by}: input ${i} '${input}' is not defined (not a graph input, initializer or earlier output)`,
        );
      }
    });
    const outputs =
      options.outputs !== undefined
        ? [...options.outputs]
        : Array.from({ length: options.outputCount ?? 1 }, (_, i) => `${name}_output_${i}`);
    for (const out of outputs) this.define(out, by);
    this.nodes.push({ name, opType, domain: options.domain ?? '', inputs: [...inputs], outputs, attributes: attrs });
    return outputs;
  }

  /** Marks an already-defined value as a graph output with its declared type and shape. */
  output(name: string, dtype: DataType, shape: Shape): void {
    if (!this.defined.has(name)) {
      throw graphError(
        { subject: `graph output '${name}'`, expected: 'defined by a node, input or initializer', actual: 'undefined' },
        `graph output '${name}' is not defined by any node, input or initializer`,
      );
    }
    if (this.outputs.some((o) => o.name === name)) {
      throw graphError(
        { subject: `graph output '${name}'`, expected: 'one declaration', actual: 'two' },
        `graph output '${name}' is declared twice`,
      );
    }
    this.outputs.push({ name, dtype, shape: [...shape] });
  }

  /** Annotates an intermediate value's type (optional; shape inference does not need it). */
  annotate(name: string, dtype: DataType, shape: Shape): void {
    this.valueInfo.push({ name, dtype, shape: [...shape] });
  }

  build(options: BuildOptions = {}): Model {
    const graph: Graph = {
      name: this.graphName,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: [...this.initializers],
      nodes: [...this.nodes],
      valueInfo: [...this.valueInfo],
    };
    return {
      opset: this.opset,
      irVersion: irVersionForOpset(this.opset),
      producerName: options.producerName ?? DEFAULT_PRODUCER_NAME,
      producerVersion: options.producerVersion ?? DEFAULT_PRODUCER_VERSION,
      graph,
      metadataProps: { ...(options.metadataProps ?? {}) },
    };
  }

  /** `base`, else the first free `base_<i>` (i = 1, 2, …); the search resumes where the last one for `base` ended. */
  private uniqueNodeName(base: string): string {
    let name = base;
    if (this.nodeNames.has(name)) {
      let i = this.nextSuffix.get(base) ?? 1;
      for (name = `${base}_${i}`; this.nodeNames.has(name); name = `${base}_${i}`) i++;
      this.nextSuffix.set(base, i + 1);
    }
    this.nodeNames.add(name);
    return name;
  }

  /** Whether `opType` exists at this graph's opset (its first opset is op-schemas.ts's fact). */
  supports(opType: string): boolean {
    return this.opset >= firstOpset(opType);
  }

  private requireOpset(opType: string): void {
    if (!this.supports(opType)) {
      const since = firstOpset(opType);
      throw graphError(
        { subject: opType, expected: `opset ${since} or later`, actual: `opset ${this.opset}` },
        `${opType} needs opset ${since} or later; this graph is opset ${this.opset}`,
      );
    }
  }

  /** One-output node named `scope/opType`. */
  private op(opType: string, scope: string, inputs: readonly string[], attrs: Attributes, o: OutputOption): string {
    const outputs = o.output === undefined ? undefined : [o.output];
    const [out] = this.node(opType, inputs, attrs, { name: `${scope}/${opType}`, outputs });
    return out as string;
  }

  // ---- op helpers: ONNX defaults apply to everything left undefined ----

  conv(
    scope: string,
    x: string,
    w: string,
    b: string | undefined,
    a: {
      strides?: readonly number[];
      pads?: readonly number[];
      dilations?: readonly number[];
      group?: number;
      kernelShape?: readonly number[];
    } & OutputOption = {},
  ): string {
    const attrs = defined({
      dilations: optInts(a.dilations),
      group: optInt(a.group),
      kernel_shape: optInts(a.kernelShape),
      pads: optInts(a.pads),
      strides: optInts(a.strides),
    });
    return this.op('Conv', scope, b === undefined ? [x, w] : [x, w, b], attrs, a);
  }

  /** LayerNormalization (from its first opset, 17; below it models/ decomposes it). */
  layerNormalization(
    scope: string,
    x: string,
    scale: string,
    bias: string | undefined,
    a: { axis?: number; epsilon?: number } & OutputOption = {},
  ): string {
    this.requireOpset('LayerNormalization');
    const attrs = defined({ axis: optInt(a.axis), epsilon: optFloat(a.epsilon) });
    return this.op('LayerNormalization', scope, bias === undefined ? [x, scale] : [x, scale, bias], attrs, a);
  }

  /** ReduceMean: `axes` is an attribute before opset 18 and an int64 input (an initializer) from 18. */
  reduceMean(scope: string, x: string, axes: readonly number[], a: { keepdims?: number } & OutputOption = {}): string {
    if (this.opset >= 18) {
      const axesName = this.initializer(int64Tensor(`${scope}/ReduceMean.axes`, [axes.length], axes));
      return this.op('ReduceMean', scope, [x, axesName], defined({ keepdims: optInt(a.keepdims) }), a);
    }
    return this.op('ReduceMean', scope, [x], defined({ axes: attr.ints(axes), keepdims: optInt(a.keepdims) }), a);
  }

  add(scope: string, x: string, y: string, o: OutputOption = {}): string {
    return this.op('Add', scope, [x, y], {}, o);
  }
  sub(scope: string, x: string, y: string, o: OutputOption = {}): string {
    return this.op('Sub', scope, [x, y], {}, o);
  }
  mul(scope: string, x: string, y: string, o: OutputOption = {}): string {
    return this.op('Mul', scope, [x, y], {}, o);
  }
  div(scope: string, x: string, y: string, o: OutputOption = {}): string {
    return this.op('Div', scope, [x, y], {}, o);
  }
  pow(scope: string, x: string, y: string, o: OutputOption = {}): string {
    return this.op('Pow', scope, [x, y], {}, o);
  }
  matMul(scope: string, x: string, y: string, o: OutputOption = {}): string {
    return this.op('MatMul', scope, [x, y], {}, o);
  }
  sqrt(scope: string, x: string, o: OutputOption = {}): string {
    return this.op('Sqrt', scope, [x], {}, o);
  }
  erf(scope: string, x: string, o: OutputOption = {}): string {
    return this.op('Erf', scope, [x], {}, o);
  }
  relu(scope: string, x: string, o: OutputOption = {}): string {
    return this.op('Relu', scope, [x], {}, o);
  }
  softplus(scope: string, x: string, o: OutputOption = {}): string {
    return this.op('Softplus', scope, [x], {}, o);
  }
  identity(scope: string, x: string, o: OutputOption = {}): string {
    return this.op('Identity', scope, [x], {}, o);
  }
  globalAveragePool(scope: string, x: string, o: OutputOption = {}): string {
    return this.op('GlobalAveragePool', scope, [x], {}, o);
  }
  min(scope: string, xs: readonly string[], o: OutputOption = {}): string {
    return this.op('Min', scope, xs, {}, o);
  }
  max(scope: string, xs: readonly string[], o: OutputOption = {}): string {
    return this.op('Max', scope, xs, {}, o);
  }

  /** Gelu (from its first opset, 20); `approximate` 'none' (default, erf) or 'tanh'. */
  gelu(scope: string, x: string, a: { approximate?: 'none' | 'tanh' } & OutputOption = {}): string {
    this.requireOpset('Gelu');
    const attrs = defined({ approximate: a.approximate === undefined ? undefined : attr.string(a.approximate) });
    return this.op('Gelu', scope, [x], attrs, a);
  }

  transpose(scope: string, x: string, perm: readonly number[], o: OutputOption = {}): string {
    return this.op('Transpose', scope, [x], { perm: attr.ints(perm) }, o);
  }

  gemm(
    scope: string,
    a: string,
    b: string,
    c: string | undefined,
    g: { alpha?: number; beta?: number; transA?: number; transB?: number } & OutputOption = {},
  ): string {
    const attrs = defined({
      alpha: optFloat(g.alpha),
      beta: optFloat(g.beta),
      transA: optInt(g.transA),
      transB: optInt(g.transB),
    });
    return this.op('Gemm', scope, c === undefined ? [a, b] : [a, b, c], attrs, g);
  }

  /** Clip with optional `min`/`max` inputs (scalar initializers); pass undefined to leave one open. */
  clip(scope: string, x: string, min: string | undefined, max: string | undefined, o: OutputOption = {}): string {
    const inputs = max !== undefined ? [x, min ?? '', max] : min !== undefined ? [x, min] : [x];
    return this.op('Clip', scope, inputs, {}, o);
  }

  flatten(scope: string, x: string, a: { axis?: number } & OutputOption = {}): string {
    return this.op('Flatten', scope, [x], defined({ axis: optInt(a.axis) }), a);
  }

  /**
   * Reshape to `shape` (0 copies, -1 infers), stored as an int64 initializer `/shapes/<dims>` that
   * every Reshape to the same target shares.
   */
  reshape(scope: string, x: string, shape: readonly number[], o: OutputOption = {}): string {
    const shared = `/shapes/${shape.join('x')}`;
    const shapeName = this.has(shared) ? shared : this.initializer(int64Tensor(shared, [shape.length], shape));
    return this.op('Reshape', scope, [x, shapeName], {}, o);
  }

  cast(scope: string, x: string, to: DataType, o: OutputOption = {}): string {
    return this.op('Cast', scope, [x], { to: attr.int(ONNX_DTYPE_CODES[to]) }, o);
  }

  /** A Constant node holding `value` (prefer initializers for weights; this is for small scalars). */
  constant(scope: string, value: Tensor, o: OutputOption = {}): string {
    return this.op('Constant', scope, [], { value: attr.tensor(value) }, o);
  }
}
