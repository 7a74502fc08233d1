/**
 * Unit: against PyTorch's intermediates, a module whose output a fold changed is left out, not paired
 * with a value it does not have. A graph like our emitter's: `head.0/Gemm` with the weight
 * `head.0.weight+head.1` (a BatchNorm folded into the Linear: the Gemm stands for `head.1`), and a
 * block whose last Linear carries its parent's scale (`blk.5.weight*layer_scale`, then a Transpose in
 * the same module) before the residual Add. The intermediates hold what PyTorch's hook would: every
 * module's own output (here: the graph's values where the graph has them, a wrong value where not).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithReferenceIntermediates } from '../../diagnose/reference-intermediates';
import { GraphBuilder } from '../../onnx/builder';
import type { Model } from '../../onnx/ir';
import { writeModel } from '../../onnx/write-model';
import { encode, layout } from './checkpoint-safetensors-writer';
import { allIntermediates } from './diagnose-fixtures';
import { weights } from './onnx-test-models';

const dir = mkdtempSync(join(tmpdir(), 'diagnose-reference-folds-'));
const graph = join(dir, 'folds.onnx');
const intermediates = join(dir, 'intermediates.safetensors');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function foldedModel(): Model {
  const b = new GraphBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['n', 4]);
  const w = b.initializer(weights('blk.5.weight*layer_scale', [4, 4], 1));
  let h = b.matMul('blk.5', x, w);
  h = b.transpose('blk.5', h, [0, 1]);
  h = b.add('blk', h, x);
  const hw = b.initializer(weights('head.0.weight+head.1', [3, 4], 2));
  const hb = b.initializer(weights('head.0.bias+head.1', [3], 3));
  b.gemm('head.0', h, hw, hb, { transB: 1, output: 'y' });
  b.output('y', 'float32', ['n', 3]);
  return b.build();
}

const c = {
  name: 'case',
  inputs: new Map([['x', { dims: [2, 4], values: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }]]),
};

beforeAll(async () => {
  await writeModel(foldedModel(), graph);
  const values = await allIntermediates(foldedModel(), c, dir);
  const bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const value = (name: string) => values.get(name) as { dims: readonly number[]; values: Float32Array };
  const wrong = (name: string) => ({ dims: value(name).dims, values: value(name).values.map((v) => v + 1) });
  // What the hook writes: the graph's value where the graph computes that module, else another value.
  const hook: Record<string, { dims: readonly number[]; values: Float32Array }> = {
    'blk.5': wrong('blk.5/Transpose_output_0'), // unscaled in PyTorch
    blk: value('blk/Add_output_0'),
    'head.0': wrong('y'), // the Linear before its BatchNorm
    'head.1': value('y'),
    head: value('y'),
  };
  const tensors = Object.fromEntries(
    Object.entries(hook).map(([k, t]) => [`case/${k}`, { dtype: 'F32', shape: t.dims, data: bytes(t.values) }]),
  );
  const { header, data } = layout(tensors);
  writeFileSync(intermediates, encode(header, data));
});

describe('compareWithReferenceIntermediates through folds', () => {
  it("pairs a BatchNorm-folded Gemm with the BatchNorm's output, and leaves the scaled Linear and the Linear before the BatchNorm out", async () => {
    const { errors, unmatched } = await compareWithReferenceIntermediates(graph, intermediates, [c]);
    expect(unmatched.sort()).toEqual(['blk.5', 'head.0']);
    expect(errors.map((e) => [e.tensor, e.maxAbs])).toEqual([
      ['blk/Add_output_0', 0],
      ['y', 0],
    ]);
  });
});
