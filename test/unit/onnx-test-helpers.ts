/** Helpers shared by the encoder and writer tests: tolerant comparison, running a model, reshaping test models. */
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import type { Model, Tensor } from '../../onnx/ir';
import { pseudoRandom } from './onnx-test-models';

/** |a - b| ≤ atol + rtol·|b| elementwise, with a message that shows the first offending index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`element ${i}: expected ${e}, got ${a} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

export async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Replaces the graph's initializers, keeping everything else. */
export function withInitializers(model: Model, f: (t: Tensor, i: number) => Tensor): Model {
  return { ...model, graph: { ...model.graph, initializers: model.graph.initializers.map(f) } };
}

export function weightsOf(name: string, dims: number[], seed: number): Tensor {
  const values = pseudoRandom(
    dims.reduce((a, b) => a * b, 1),
    seed,
  );
  return { name, dtype: 'float32', dims, data: { kind: 'memory', bytes: new Uint8Array(values.buffer) } };
}
