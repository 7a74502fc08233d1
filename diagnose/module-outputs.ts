/**
 * Which value of a graph is each PyTorch module's output: the output of the last node (topological
 * order) of that module or of a module inside it, read from the node names (graph-order.ts's
 * modulePathOf), with the folds our emitter makes taken into account. Both baselines use it: PyTorch's
 * intermediates (keys are module paths) and a graph from another exporter (paired by module path).
 *
 * Must not: run graphs or read tensor data.
 */
import { modulePathOf, type GraphOrder } from './graph-order';

/**
 * Module path → the last of its nodes' (or its sub-modules' nodes') first output `use` accepts.
 * Folds change what a node computes (models/folding.ts names its weights after them): a weight
 * `position_head.0.weight+position_head.1` (a BatchNorm folded into its Linear) makes the node
 * compute `position_head.1`'s output, and `position_head.0`'s own is nowhere in the graph; a weight
 * `block.5.weight*layer_scale` (a parent's scale folded in) makes it compute no module's output, so
 * neither its module nor a parent whose last node it is can be read from the graph. Such modules are
 * left out (reported unmatched), not paired with a value they do not have.
 */
export function moduleOutputs(order: GraphOrder, use: (value: string) => boolean): Map<string, string> {
  const out = new Map<string, string | undefined>();
  const withAncestors = (path: string, value: string | undefined): void => {
    const parts = path.split('.');
    for (let i = 1; i <= parts.length; i++) if (parts[0] !== '') out.set(parts.slice(0, i).join('.'), value);
  };
  /** Values scaled by a fold, by the module that computed them: that module's later nodes stay scaled. */
  const scaled = new Map<string, string>();
  for (const n of order.nodes) {
    const own = modulePathOf(n.name);
    const fold = n.inputs.find((i) => i.includes('+') || i.includes('*'));
    const isScaled =
      (fold !== undefined && !fold.includes('+')) || n.inputs.some((i) => scaled.get(i) === own && own !== '');
    if (isScaled) for (const o of n.outputs) scaled.set(o, own);
    const v = n.outputs.find((o) => o !== '' && use(o));
    if (v === undefined) continue;
    if (isScaled) withAncestors(own, undefined);
    else if (fold !== undefined) {
      out.set(own, undefined);
      withAncestors(fold.slice(fold.lastIndexOf('+') + 1), v);
    } else withAncestors(own, v);
  }
  return new Map([...out].filter((e): e is [string, string] => e[1] !== undefined));
}
