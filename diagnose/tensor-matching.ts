/**
 * Which intermediate of one graph is which of another's. Our emitter names nodes and values after
 * the PyTorch module path, so two graphs of one model (fp32 and int8, or two exports) share most
 * value names: those pair up as they are. What is left pairs up by module: the output of the last
 * node of a module or of a module inside it (the same module path, read from either exporter's node
 * names; folds taken into account, module-outputs.ts) stands for that module's output on both sides. A module of the candidate none of whose case-dependent values found
 * a partner is reported as unmatched.
 *
 * Must not: run graphs or read tensor data.
 */
import type { Graph } from '../onnx/ir';
import { modulePathOf, type GraphOrder } from './graph-order';
import { moduleOutputs } from './module-outputs';

export interface MatchSide {
  readonly graph: Graph;
  readonly order: GraphOrder;
  /** Whether a value may be compared (a float, or of a type not known before it runs). */
  readonly comparable: (value: string) => boolean;
}

export interface TensorPair {
  readonly candidate: string;
  readonly baseline: string;
}

export interface TensorMatch {
  /** In the candidate's topological order. */
  readonly pairs: readonly TensorPair[];
  /** Module paths of the candidate with no value paired. */
  readonly unmatched: readonly string[];
}

/** Node outputs that depend on a graph input (what varies with the case; not weight-only folds). */
export function caseDependentValues(graph: Graph, order: GraphOrder): Set<string> {
  const dependent = new Set(graph.inputs.map((v) => v.name));
  for (const n of order.nodes) {
    if (n.inputs.some((v) => dependent.has(v))) for (const v of n.outputs) if (v !== '') dependent.add(v);
  }
  for (const v of graph.inputs) dependent.delete(v.name);
  return dependent;
}

export function matchTensors(candidate: MatchSide, baseline: MatchSide): TensorMatch {
  const candDependent = caseDependentValues(candidate.graph, candidate.order);
  const baseDependent = caseDependentValues(baseline.graph, baseline.order);
  const partner = new Map<string, string>();
  for (const v of candDependent) {
    if (candidate.comparable(v) && baseDependent.has(v) && baseline.comparable(v)) partner.set(v, v);
  }
  const matchedModules = new Set([...partner.keys()].map((v) => moduleOf(candidate.order, v)));
  const baseModules = moduleOutputs(baseline.order, (v) => baseDependent.has(v) && baseline.comparable(v));
  const taken = new Set(partner.values());
  for (const [path, v] of moduleOutputs(candidate.order, (v) => candDependent.has(v) && candidate.comparable(v))) {
    if (matchedModules.has(path)) continue;
    const b = baseModules.get(path);
    if (b === undefined || taken.has(b) || partner.has(v)) continue;
    partner.set(v, b);
    taken.add(b);
    matchedModules.add(path);
    matchedModules.add(moduleOf(candidate.order, v));
  }
  const unmatched = new Set<string>();
  for (const v of candDependent) {
    const path = moduleOf(candidate.order, v);
    if (candidate.comparable(v) && path !== '' && !matchedModules.has(path)) unmatched.add(path);
  }
  const pairs = [...partner]
    .map(([c, b]) => ({ candidate: c, baseline: b }))
    .sort((x, y) => depthOf(candidate.order, x.candidate) - depthOf(candidate.order, y.candidate));
  return { pairs, unmatched: [...unmatched] };
}

function moduleOf(order: GraphOrder, value: string): string {
  return modulePathOf(order.nodes[depthOf(order, value)]?.name ?? '');
}

function depthOf(order: GraphOrder, value: string): number {
  return order.producer.get(value) ?? -1;
}
