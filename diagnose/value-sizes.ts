/**
 * What each value of a graph costs in memory for a set of cases: the graph's own shape inference run
 * once per case with the graph inputs at that case's sizes, so a segment of the graph can be sized by
 * bytes before anything runs. A value whose shape cannot be inferred is counted at the largest size
 * known (a guess on the safe side); its dtype is then unknown too.
 *
 * Must not: run graphs or read tensor data beyond shape inference's small constants.
 */
import type { DataType, Model } from '../onnx/ir';
import { dtypeByteSize } from '../onnx/ir';
import { inferShapes } from '../onnx/shape-inference';

export interface ValueSizes {
  /** Bytes of a value summed over the cases. */
  bytes(name: string): number;
  /** Its element type, when inference knows it. */
  dtype(name: string): DataType | undefined;
}

/** The inputs' sizes of one case: graph input name → dims. */
export type CaseDims = ReadonlyMap<string, readonly number[]>;

export function valueSizes(model: Model, cases: readonly CaseDims[]): ValueSizes {
  const total = new Map<string, number>();
  const dtypes = new Map<string, DataType>();
  let largest = 0;
  for (const dims of cases) {
    const inputs = model.graph.inputs.map((v) => ({ ...v, shape: dims.get(v.name) ?? v.shape }));
    const { types } = inferShapes({ ...model, graph: { ...model.graph, inputs } });
    for (const [name, t] of types) {
      if (t.dtype !== undefined) dtypes.set(name, t.dtype);
      if (t.dtype === undefined || t.shape === undefined || !t.shape.every((d) => typeof d === 'number')) continue;
      const bytes = (t.shape as readonly number[]).reduce((a, d) => a * d, 1) * dtypeByteSize(t.dtype);
      total.set(name, (total.get(name) ?? 0) + bytes);
      largest = Math.max(largest, bytes * cases.length);
    }
  }
  return { bytes: (name) => total.get(name) ?? largest, dtype: (name) => dtypes.get(name) };
}
