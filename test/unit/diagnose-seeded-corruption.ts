/**
 * Test helper for the seeded-corruption tests of `diagnose`: from a clean graph, the weights of its
 * hidden layers (neither its first nor its last layer), a seeded choice of them, and a copy of the graph with one of them perturbed.
 * What diagnose must then name is the first node that computes on the case with the changed values.
 * Tests only (and tools/diagnose-benchmark.ts).
 */
import { modulePathOf, graphOrder } from '../../diagnose/graph-order';
import { caseDependentValues } from '../../diagnose/tensor-matching';
import type { Model, Tensor } from '../../onnx/ir';
import { float32Tensor } from '../../onnx/ir';
import { readModel } from '../../onnx/serialize-read';
import { readTensorData } from '../../onnx/tensor-bytes';
import { writeModel } from '../../onnx/write-model';
import { pseudoRandom } from './onnx-test-models';

export interface HiddenWeight {
  readonly initializer: string;
  /** The first node computing on the case with it (what diagnose must name), its depth and module. */
  readonly node: string;
  readonly depth: number;
  readonly modulePath: string;
}

/** The module a state_dict key belongs to, folds' suffixes (`+bn`, `*q_scale`) aside: `a.b.0.weight+a.b.1` → `a.b.0`. */
function moduleOfWeight(name: string): string {
  const key = name.split(/[+*]/)[0] ?? '';
  return key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
}

/**
 * Every hidden-layer weight of `model`, in name order: a float initializer of a module, whose first
 * node computing on the case belongs to that module (its path names it, fused or not) and is neither
 * the graph's first nor its last such layer.
 */
export function hiddenWeights(model: Model): HiddenWeight[] {
  const order = graphOrder(model.graph);
  const dependent = caseDependentValues(model.graph, order);
  const found: HiddenWeight[] = [];
  for (const t of model.graph.initializers) {
    const module = moduleOfWeight(t.name);
    if (t.dtype !== 'float32' || t.dims.reduce((a, d) => a * d, 1) < 2 || module === '') continue;
    const tainted = new Set([t.name]);
    for (const [depth, node] of order.nodes.entries()) {
      if (!node.inputs.some((v) => tainted.has(v))) continue;
      for (const v of node.outputs) tainted.add(v);
      if (!node.outputs.some((v) => dependent.has(v))) continue;
      const modulePath = modulePathOf(node.name);
      if (modulePath.includes(module)) found.push({ initializer: t.name, node: node.name, depth, modulePath });
      break;
    }
  }
  const first = Math.min(...found.map((w) => w.depth));
  const last = Math.max(...found.map((w) => w.depth));
  return found
    .filter((w) => w.depth !== first && w.depth !== last)
    .sort((a, b) => (a.initializer < b.initializer ? -1 : 1));
}

/** `count` distinct hidden weights of the graph at `path`, chosen by `seed`. */
export async function seededHiddenWeights(path: string, count: number, seed: number): Promise<HiddenWeight[]> {
  const all = hiddenWeights(await readModel(path));
  if (all.length < count) throw new Error(`${path}: ${all.length} hidden-layer weights, fewer than ${count}`);
  const keys = pseudoRandom(all.length, seed);
  return all
    .map((w, i) => ({ w, k: keys[i] as number }))
    .sort((a, b) => a.k - b.k)
    .slice(0, count)
    .map(({ w }) => w);
}

/**
 * Writes the graph at `cleanPath` to `outPath` with `initializer` perturbed: every value moved by a
 * seeded uniform amount up to half its tensor's mean magnitude (at least 0.01).
 */
export async function writeCorrupted(
  cleanPath: string,
  outPath: string,
  initializer: string,
  seed: number,
): Promise<void> {
  const model = await readModel(cleanPath);
  const initializers: Tensor[] = [];
  for (const t of model.graph.initializers) {
    if (t.name !== initializer) {
      initializers.push(t);
      continue;
    }
    const bytes = await readTensorData(t.data);
    const values = new Float32Array(bytes.slice().buffer);
    const meanAbs = values.reduce((s, v) => s + Math.abs(v), 0) / values.length;
    const noise = pseudoRandom(values.length, seed, Math.max(0.5 * meanAbs, 0.01));
    initializers.push(
      float32Tensor(
        t.name,
        t.dims,
        values.map((v, i) => v + (noise[i] as number)),
      ),
    );
  }
  await writeModel({ ...model, graph: { ...model.graph, initializers } }, outPath);
}
