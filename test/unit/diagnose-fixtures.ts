/**
 * Test helper for diagnose/'s unit tests: the miniature LocalizationNet with one weight replaced,
 * its cases, and every intermediate of a graph from one onnxruntime session that exposes them all
 * (the figures a sliced run must reproduce). Not a test itself.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DiagnosisCase } from '../../diagnose/layer-errors';
import type { Model } from '../../onnx/ir';
import { float32Tensor } from '../../onnx/ir';
import { writeModel } from '../../onnx/write-model';
import { pseudoRandom, TINY } from './onnx-test-models';

/** The weight changed in the corrupted copy, and the node that reads it. */
export const CORRUPTED_WEIGHT = 'backbone.0.1.0.block.3.weight';
export const FIRST_AFFECTED_NODE = 'backbone.0.1.0.block.3/MatMul';

/** `model` with initializer `name` replaced by other pseudo-random values at `scale`. */
export function withWeight(model: Model, name: string, scale: number, seed = 99): Model {
  const initializers = model.graph.initializers.map((t) => {
    if (t.name !== name) return t;
    return float32Tensor(
      name,
      t.dims,
      pseudoRandom(
        t.dims.reduce((a, d) => a * d, 1),
        seed,
        scale,
      ),
    );
  });
  return { ...model, graph: { ...model.graph, initializers } };
}

export function tinyCase(name: string, batch: number, seed: number): DiagnosisCase {
  const dims = [batch, TINY.inChannels, TINY.height, TINY.width];
  const values = pseudoRandom(
    dims.reduce((a, d) => a * d, 1),
    seed,
    2,
  );
  return { name, inputs: new Map([['mel_spectrogram', { dims, values }]]) };
}

/** Every float node output of `model` on one case, with its dims, by one session exposing them all. */
export async function allIntermediates(
  model: Model,
  c: DiagnosisCase,
  dir: string,
): Promise<Map<string, { dims: readonly number[]; values: Float32Array }>> {
  const exposed = join(dir, `all-${Math.random().toString(36).slice(2)}.onnx`);
  const outputs = model.graph.nodes.flatMap((n) => n.outputs).map((name) => ({ name }));
  await writeModel({ ...model, graph: { ...model.graph, outputs } }, exposed);
  const session = await ort.InferenceSession.create(exposed);
  const feeds = Object.fromEntries(
    [...c.inputs].map(([name, t]) => [
      name,
      new ort.Tensor(t.values instanceof Float32Array ? 'float32' : 'int64', t.values, t.dims),
    ]),
  );
  const out = await session.run(feeds);
  await session.release();
  rmSync(exposed, { force: true });
  return new Map(
    Object.entries(out)
      .filter(([, t]) => t.type === 'float32')
      .map(([k, t]) => [k, { dims: t.dims, values: t.data as Float32Array }]),
  );
}
