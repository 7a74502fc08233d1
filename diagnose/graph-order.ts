/**
 * A graph's nodes in topological order, who produces and who last consumes each value, and the
 * PyTorch module path a node name carries. ONNX requires a graph's nodes to be listed in
 * topological order already; a graph that is not is sorted here (stably), so the order diagnose
 * reports (a tensor's depth, the first divergence) is always one in which a value comes after its inputs.
 *
 * Must not: run graphs or read tensor data.
 */
import type { Graph, Node } from '../onnx/ir';

export interface GraphOrder {
  readonly nodes: readonly Node[];
  /** Value name → index (in `nodes`) of the node producing it. */
  readonly producer: ReadonlyMap<string, number>;
  /** Value name → index of the last node consuming it (absent: no node consumes it). */
  readonly lastUse: ReadonlyMap<string, number>;
}

export function graphOrder(graph: Graph): GraphOrder {
  const nodes = topologicalNodes(graph);
  const producer = new Map<string, number>();
  const lastUse = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const v of n.inputs) if (v !== '') lastUse.set(v, i);
    for (const v of n.outputs) if (v !== '') producer.set(v, i);
  });
  return { nodes, producer, lastUse };
}

/** Kahn's algorithm, taking nodes in their listed order whenever several are ready. */
function topologicalNodes(graph: Graph): readonly Node[] {
  const available = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.map((t) => t.name)]);
  const ready = (n: Node): boolean => n.inputs.every((v) => v === '' || available.has(v));
  const out: Node[] = [];
  let pending = [...graph.nodes];
  while (pending.length > 0) {
    const next: Node[] = [];
    for (const n of pending) {
      if (ready(n)) {
        out.push(n);
        for (const v of n.outputs) available.add(v);
      } else next.push(n);
    }
    // A node whose input nothing produces: keep it last (onnxruntime will name the missing value).
    if (next.length === pending.length) return [...out, ...next];
    pending = next;
  }
  return out;
}

/**
 * The PyTorch module path of a node name: ours (`backbone.0.1.0.block.0/Conv` → `backbone.0.1.0.block.0`)
 * and torch.onnx's scoped names, one scope per module, each the module's name in its parent, where a
 * Sequential's child repeats the Sequential's name (`/backbone/backbone.0/backbone.0.1/block/block.0/Conv`
 * → `backbone.0.1.block.0`): a scope that extends the previous one replaces it, any other is one more
 * attribute. '' for a node outside any module.
 */
export function modulePathOf(nodeName: string): string {
  const scopes = nodeName
    .split('/')
    .slice(0, -1)
    .filter((s) => s !== '');
  let path = '';
  let previous = '';
  for (const s of scopes) {
    if (previous !== '' && s.startsWith(`${previous}.`)) path = `${path.slice(0, path.length - previous.length)}${s}`;
    else path = path === '' ? s : `${path}.${s}`;
    previous = s;
  }
  return path;
}
