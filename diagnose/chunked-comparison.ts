/**
 * The comparison loop both baselines share (another graph, or PyTorch's intermediates): the
 * candidate's tensors taken a chunk at a time from its slices, the baseline's values of the same
 * chunk fetched, every case compared, and all of it dropped before the next chunk. Only floats are
 * compared; a pair whose shapes differ is compared in the candidate's layout when only the axis order
 * or the stacking of rows differs (layout.ts), else reported, not compared.
 *
 * Must not: choose what pairs with what (tensor-matching.ts, reference-intermediates.ts).
 */
import type * as ort from 'onnxruntime-node';
import { dataByteLength } from '../onnx/ir';
import { modulePathOf } from './graph-order';
import { alignLayout } from './layout';
import type { SegmentedGraph } from './segmented-graph';
import { floatValues, TensorErrorAccumulator, type TensorError } from './tensor-errors';
import type { ValueSizes } from './value-sizes';

/** A candidate tensor and what stands for it on the baseline's side. */
export interface ComparedPair {
  readonly candidate: string;
  readonly baseline: string;
}

/** One case's baseline values, by the pair's baseline name. */
export type BaselineValues = ReadonlyMap<
  string,
  { readonly dims: readonly number[]; readonly values: ArrayLike<number> }
>;

export interface ChunkedComparison {
  readonly errors: TensorError[];
  /** `tensor ([candidate dims] vs [baseline dims])` for each pair whose shapes differ. */
  readonly shapeMismatches: string[];
}

export async function compareInChunks(
  candidate: SegmentedGraph,
  sizes: ValueSizes,
  pairs: readonly ComparedPair[],
  maxChunkBytes: number,
  baselineOf: (chunk: readonly ComparedPair[]) => Promise<BaselineValues[]>,
): Promise<ChunkedComparison> {
  const accumulators = new Map<string, TensorErrorAccumulator>();
  const shapeMismatches: string[] = [];
  for (const chunk of chunksOf(pairs, candidate, sizes, maxChunkBytes)) {
    const got = await candidate.take(chunk.map((p) => p.candidate));
    const want = await baselineOf(chunk);
    for (const p of chunk) {
      for (const [i, c] of got.entries()) {
        const a = c.get(p.candidate) as ort.Tensor;
        const b = want[i]?.get(p.baseline);
        const av = floatValues(a);
        if (av === undefined || b === undefined) break; // int64/bool: not compared
        const bv = sameDims(a.dims, b.dims) ? b.values : alignLayout(b.values, b.dims, a.dims);
        if (bv === undefined) {
          shapeMismatches.push(`${p.candidate} ([${a.dims.join(', ')}] vs [${b.dims.join(', ')}])`);
          accumulators.delete(p.candidate);
          break;
        }
        let acc = accumulators.get(p.candidate);
        if (acc === undefined) accumulators.set(p.candidate, (acc = new TensorErrorAccumulator()));
        acc.add(av, bv);
      }
    }
  }
  const errors = pairs.flatMap((p): TensorError[] => {
    const acc = accumulators.get(p.candidate);
    if (acc === undefined) return [];
    const depth = candidate.order.producer.get(p.candidate) as number;
    const node = candidate.order.nodes[depth];
    const { mae, maxAbs, baselineMeanAbs, nonFinite } = acc.result();
    const name = node?.name ?? '';
    return [
      {
        tensor: p.candidate,
        node: name,
        op: node?.opType ?? '',
        modulePath: modulePathOf(name),
        depth,
        mae,
        maxAbs,
        baselineMeanAbs,
        nonFinite,
      },
    ];
  });
  return { errors, shapeMismatches };
}

/**
 * Pairs in the candidate's order, cut where the next would pass `maxBytes`: the compared tensors'
 * bytes over every case, plus the weights the candidate's nodes since the last cut hold. A chunk
 * holds at least one pair, whatever its size.
 */
export function chunksOf<P extends { readonly candidate: string }>(
  pairs: readonly P[],
  graph: SegmentedGraph,
  sizes: ValueSizes,
  maxBytes: number,
): P[][] {
  const weightBytes = new Map(graph.model.graph.initializers.map((t) => [t.name, dataByteLength(t.data)]));
  const nodeWeights = graph.order.nodes.map((n) => n.inputs.reduce((s, v) => s + (weightBytes.get(v) ?? 0), 0));
  const at = (p: P): number => graph.order.producer.get(p.candidate) ?? 0;
  const chunks: P[][] = [];
  let chunk: P[] = [];
  let bytes = 0;
  let from = 0;
  for (const p of [...pairs].sort((x, y) => at(x) - at(y))) {
    let cost = sizes.bytes(p.candidate);
    for (let i = from; i <= at(p); i++) cost += nodeWeights[i] ?? 0;
    if (chunk.length > 0 && bytes + cost > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(p);
    bytes += cost;
    from = Math.max(from, at(p) + 1);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
