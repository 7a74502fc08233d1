/**
 * The structural checker: every problem of a model, not just the first, each naming the node, its op
 * type and the offending input or tensor. One `check*` function per kind of thing (opset, graph
 * inputs/outputs, initializers, topology, operators, shapes); `checkModel` runs them all. Agrees with
 * `onnx.checker.check_model(full_check=True)` on the cases the tests cover
 * (test/integration/onnx-checker-agreement.test.ts).
 *
 * Must not: modify the model, read tensor payloads (it compares declared lengths and stats external
 * files), or throw on a bad model — problems are data; `assertValidModel` turns them into one error.
 */
import { statSync } from 'node:fs';
import type { Attribute, Graph, Model, Node, Tensor } from './ir';
import { dataByteLength, dtypeByteSize, elementCount, formatShape, IR_VERSION_BY_OPSET } from './ir';
import { lookupSchema } from './op-schemas';
import type { ValueType } from './shape-inference';
import { inferShapes } from './shape-inference';

export type ProblemKind =
  | 'opset'
  | 'graph-io'
  | 'initializer'
  | 'topological-order'
  | 'undefined-input'
  | 'ssa'
  | 'unknown-op'
  | 'arity'
  | 'attribute'
  | 'shape';

/** One thing wrong with a model. `message` is complete on its own (it names node/op/value). */
export interface Problem {
  readonly kind: ProblemKind;
  readonly message: string;
  readonly node?: string;
  readonly opType?: string;
  /** The value (node input, graph output, initializer) the problem is about. */
  readonly value?: string;
  /**
   * Set on an `unknown-op` problem whose op is ai.onnx's but has no schema in op-schemas.ts: the
   * graph may be fine, this tool just cannot vouch for the op (a caller may let another check decide).
   */
  readonly noSchema?: true;
}

export interface CheckReport {
  readonly ok: boolean;
  readonly problems: readonly Problem[];
  /** Types from shape inference, by value name (graph inputs, initializers, node outputs). */
  readonly inferred: ReadonlyMap<string, ValueType>;
}

/** A model with problems; `problems` lists all of them, the message shows them one per line. */
export class ModelCheckError extends Error {
  constructor(
    readonly problems: readonly Problem[],
    readonly file?: string,
  ) {
    super(
      `${file ?? 'model'}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`,
    );
    this.name = 'ModelCheckError';
  }
}

function nodeLabel(n: Node, index: number): string {
  return `node '${n.name === '' ? `#${index}` : n.name}' (${n.opType})`;
}

function nodeProblem(kind: ProblemKind, n: Node, index: number, detail: string, value?: string): Problem {
  return {
    kind,
    message: `${nodeLabel(n, index)}: ${detail}`,
    node: n.name,
    opType: n.opType,
    ...(value !== undefined ? { value } : {}),
  };
}

/** The default-domain opset is one we have tables for. */
export function checkOpset(model: Model): Problem[] {
  const known = Object.keys(IR_VERSION_BY_OPSET).map(Number);
  const [lo, hi] = [Math.min(...known), Math.max(...known)];
  if (IR_VERSION_BY_OPSET[model.opset] === undefined) {
    return [
      {
        kind: 'opset',
        message: `opset ${model.opset} (ai.onnx) is not supported: this tool knows opsets ${lo} to ${hi}`,
      },
    ];
  }
  return [];
}

/** Graph inputs and outputs have unique names and an element type; outputs are produced by something. */
export function checkGraphIO(graph: Graph): Problem[] {
  const problems: Problem[] = [];
  const produced = new Set([
    ...graph.inputs.map((v) => v.name),
    ...graph.initializers.map((t) => t.name),
    ...graph.nodes.flatMap((n) => n.outputs),
  ]);
  for (const [what, list] of [
    ['input', graph.inputs],
    ['output', graph.outputs],
  ] as const) {
    const seen = new Set<string>();
    for (const v of list) {
      if (seen.has(v.name))
        problems.push({ kind: 'graph-io', message: `graph ${what} '${v.name}' is declared twice`, value: v.name });
      seen.add(v.name);
      if (v.dtype === undefined)
        problems.push({ kind: 'graph-io', message: `graph ${what} '${v.name}' has no type`, value: v.name });
    }
  }
  for (const v of graph.outputs) {
    if (!produced.has(v.name))
      problems.push({
        kind: 'graph-io',
        message: `graph output '${v.name}' is not produced by any node, input or initializer`,
        value: v.name,
      });
  }
  return problems;
}

/** Each initializer's data has exactly dims × dtype bytes; external files exist and hold the range. */
export function checkInitializers(graph: Graph): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const check = (t: Tensor, where: string): void => {
    const expected = elementCount(t.dims) * dtypeByteSize(t.dtype);
    const actual = dataByteLength(t.data);
    if (expected !== actual) {
      problems.push({
        kind: 'initializer',
        message: `${where} '${t.name}': ${t.dtype} ${formatShape(t.dims)} needs ${expected} bytes, its data has ${actual}`,
        value: t.name,
      });
    }
    if (t.dims.some((d) => !Number.isInteger(d) || d < 0)) {
      problems.push({
        kind: 'initializer',
        message: `${where} '${t.name}': dims ${formatShape(t.dims)} must be non-negative integers`,
        value: t.name,
      });
    }
    if (t.data.kind === 'file') {
      let size: number;
      try {
        size = statSync(t.data.path).size;
      } catch {
        problems.push({
          kind: 'initializer',
          message: `${where} '${t.name}': data file ${t.data.path} does not exist`,
          value: t.name,
        });
        return;
      }
      if (t.data.offset + t.data.length > size) {
        problems.push({
          kind: 'initializer',
          message: `${where} '${t.name}': bytes ${t.data.offset}..${t.data.offset + t.data.length} are past the end of ${t.data.path} (${size} bytes)`,
          value: t.name,
        });
      }
    }
  };
  for (const t of graph.initializers) {
    if (seen.has(t.name))
      problems.push({ kind: 'ssa', message: `initializer '${t.name}' is defined twice`, value: t.name });
    seen.add(t.name);
    check(t, 'initializer');
  }
  graph.nodes.forEach((n, i) => {
    for (const [name, a] of Object.entries(n.attributes))
      if (a.type === 'tensor') check(a.value, `${nodeLabel(n, i)}: attribute '${name}' tensor`);
  });
  return problems;
}

/**
 * Nodes are topologically sorted and every name is assigned once (SSA): each input is a graph input,
 * an initializer or an output of an earlier node.
 */
export function checkTopology(graph: Graph): Problem[] {
  const problems: Problem[] = [];
  const producerIndex = new Map<string, number>();
  graph.nodes.forEach((n, i) =>
    n.outputs.forEach((o) => {
      if (o !== '' && !producerIndex.has(o)) producerIndex.set(o, i);
    }),
  );
  const defined = new Map<string, string>();
  for (const v of graph.inputs) defined.set(v.name, `graph input '${v.name}'`);
  for (const t of graph.initializers) if (!defined.has(t.name)) defined.set(t.name, `initializer '${t.name}'`);
  graph.nodes.forEach((n, i) => {
    n.inputs.forEach((input, k) => {
      if (input === '' || defined.has(input)) return;
      const later = producerIndex.get(input);
      if (later !== undefined && later >= i) {
        const p = graph.nodes[later] as Node;
        problems.push(
          nodeProblem(
            'topological-order',
            n,
            i,
            `input ${k} '${input}' is produced by ${nodeLabel(p, later)}, which comes later: nodes are not topologically sorted`,
            input,
          ),
        );
      } else {
        problems.push(
          nodeProblem(
            'undefined-input',
            n,
            i,
            `input ${k} '${input}' is not a graph input, an initializer or an output of an earlier node`,
            input,
          ),
        );
      }
    });
    for (const out of n.outputs) {
      if (out === '') continue;
      const previous = defined.get(out);
      if (previous !== undefined)
        problems.push(
          nodeProblem(
            'ssa',
            n,
            i,
            `output '${out}' is already defined by ${previous}: every name must be assigned once`,
            out,
          ),
        );
      else defined.set(out, nodeLabel(n, i));
    }
  });
  return problems;
}

const ATTRIBUTE_TYPE_NAMES: Readonly<Record<Attribute['type'], string>> = {
  int: 'INT',
  float: 'FLOAT',
  string: 'STRING',
  ints: 'INTS',
  floats: 'FLOATS',
  tensor: 'TENSOR',
};

/** Every op exists at the model's opset, with a valid number of inputs/outputs and its attributes. */
export function checkOperators(model: Model): Problem[] {
  const problems: Problem[] = [];
  model.graph.nodes.forEach((n, i) => {
    if (n.domain !== '' && n.domain !== 'ai.onnx') {
      problems.push(
        nodeProblem('unknown-op', n, i, `domain '${n.domain}' is not supported: only ai.onnx operators are checked`),
      );
      return;
    }
    const found = lookupSchema(n.opType, model.opset);
    if ('problem' in found) {
      if (found.problem === 'not-in-opset') {
        const detail = `${n.opType} exists from opset ${found.since}; this model is opset ${model.opset}`;
        problems.push(nodeProblem('unknown-op', n, i, detail));
      } else {
        const detail = `no operator ${n.opType} is known for opset ${model.opset}`;
        problems.push({ ...nodeProblem('unknown-op', n, i, detail), noSchema: true });
      }
      return;
    }
    const s = found.schema;
    const [minIn, maxIn] = s.inputs;
    // Trailing omitted optional inputs ('') don't count; inner ones hold a position.
    let inputs = n.inputs.length;
    while (inputs > 0 && n.inputs[inputs - 1] === '') inputs--;
    if (inputs < minIn || inputs > maxIn) {
      problems.push(
        nodeProblem(
          'arity',
          n,
          i,
          `has ${inputs} input${inputs === 1 ? '' : 's'}, ${n.opType}-${s.since} takes ${minIn === maxIn ? minIn : `${minIn} to ${maxIn === Infinity ? 'any number' : maxIn}`}`,
        ),
      );
    }
    for (let k = 0; k < minIn && k < n.inputs.length; k++) {
      if (n.inputs[k] === '') problems.push(nodeProblem('arity', n, i, `required input ${k} is empty`));
    }
    const [minOut, maxOut] = s.outputs;
    if (n.outputs.length < minOut || n.outputs.length > maxOut) {
      problems.push(
        nodeProblem(
          'arity',
          n,
          i,
          `has ${n.outputs.length} outputs, ${n.opType}-${s.since} produces ${minOut === maxOut ? minOut : `${minOut} to ${maxOut}`}`,
        ),
      );
    }
    for (const [name, a] of Object.entries(n.attributes)) {
      const want = s.attributes[name];
      if (want === undefined) {
        const known = Object.keys(s.attributes);
        problems.push(
          nodeProblem(
            'attribute',
            n,
            i,
            `unknown attribute '${name}' for ${n.opType}-${s.since} (known: ${known.length ? known.join(', ') : 'none'})`,
          ),
        );
      } else if (want.type !== a.type) {
        problems.push(
          nodeProblem(
            'attribute',
            n,
            i,
            `attribute '${name}' must be ${ATTRIBUTE_TYPE_NAMES[want.type]}, got ${ATTRIBUTE_TYPE_NAMES[a.type]}`,
          ),
        );
      }
    }
    for (const [name, want] of Object.entries(s.attributes)) {
      if (want.required && n.attributes[name] === undefined)
        problems.push(
          nodeProblem(
            'attribute',
            n,
            i,
            `required attribute '${name}' (${ATTRIBUTE_TYPE_NAMES[want.type]}) is missing`,
          ),
        );
    }
    if (n.opType === 'Constant') {
      const set = Object.keys(n.attributes).filter((k) => k.startsWith('value') || k === 'sparse_value');
      if (set.length !== 1)
        problems.push(
          nodeProblem(
            'attribute',
            n,
            i,
            `needs exactly one of its value attributes, has ${set.length ? set.join(', ') : 'none'}`,
          ),
        );
    }
  });
  return problems;
}

/** Shape inference from the inputs through every node; declared output/value_info types must agree. */
export function checkShapes(model: Model): { problems: Problem[]; inferred: ReadonlyMap<string, ValueType> } {
  const { types, problems: inference } = inferShapes(model);
  const problems: Problem[] = inference.map((p) => {
    const index = model.graph.nodes.findIndex((n) => n.name === p.node);
    const n = model.graph.nodes[index];
    return n === undefined ? { kind: 'shape', message: p.message } : nodeProblem('shape', n, index, p.message, p.input);
  });
  const producer = new Map<string, { n: Node; i: number }>();
  model.graph.nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, { n, i })));
  const compare = (what: string, name: string, declared: ValueType): void => {
    const inferred = types.get(name);
    if (inferred === undefined) return;
    const by = producer.get(name);
    const push = (detail: string): void => {
      problems.push(
        by === undefined
          ? { kind: 'shape', message: `${what} '${name}': ${detail}`, value: name }
          : nodeProblem('shape', by.n, by.i, `${what} '${name}': ${detail}`, name),
      );
    };
    if (declared.dtype !== undefined && inferred.dtype !== undefined && declared.dtype !== inferred.dtype) {
      push(`declared ${declared.dtype}, inferred ${inferred.dtype}`);
    }
    const [d, s] = [declared.shape, inferred.shape];
    if (d === undefined || s === undefined) return;
    const mismatch =
      d.length !== s.length ||
      d.some((dim, k) => {
        const other = s[k];
        // Static sizes must match. Symbols must match too (stricter than onnx, which lets a symbol
        // stand for any size): `positions [batch_size, 2]` is a contract with the inference service.
        if (typeof dim === 'number' && typeof other === 'number') return dim !== other;
        return typeof dim === 'string' && dim !== '' && typeof other === 'string' && other !== '' && dim !== other;
      });
    if (mismatch) push(`declared shape ${formatShape(d)}, inferred ${formatShape(s)}`);
  };
  for (const o of model.graph.outputs) compare('graph output', o.name, o);
  for (const v of model.graph.valueInfo) compare('value_info', v.name, v);
  return { problems, inferred: types };
}

/** Runs every check and returns all problems, in the order above. */
export function checkModel(model: Model): CheckReport {
  const opset = checkOpset(model);
  const structural = [...checkGraphIO(model.graph), ...checkInitializers(model.graph), ...checkTopology(model.graph)];
  const operators = opset.length === 0 ? checkOperators(model) : [];
  const shapes = checkShapes(model);
  const problems = [...opset, ...structural, ...operators, ...shapes.problems];
  return { ok: problems.length === 0, problems, inferred: shapes.inferred };
}

/** Throws a ModelCheckError listing every problem, or returns the report of a valid model. */
export function assertValidModel(model: Model, file?: string): CheckReport {
  const report = checkModel(model);
  if (!report.ok) throw new ModelCheckError(report.problems, file);
  return report;
}
