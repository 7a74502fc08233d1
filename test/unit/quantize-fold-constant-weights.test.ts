/**
 * foldConstantWeights on small hand-built graphs: a Gemm weight and a Conv weight computed from
 * initializers become initializers holding the values onnxruntime computes, the nodes that computed
 * them go, and the graph gives the same outputs; a constant subgraph feeding anything but a weight, a
 * random op and an initializer a graph input may override are left as they are; a computed weight
 * that is not float32 is refused by name. No servers.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../onnx/builder';
import { float32Tensor, int64Tensor, type Model } from '../../onnx/ir';
import { readTensorData } from '../../onnx/tensor-bytes';
import { writeModel } from '../../onnx/write-model';
import { QuantizeError } from '../../quantize';
import { foldConstantWeights } from '../../quantize/fold-constant-weights';
import { tempDir } from './checkpoint-safetensors-writer';

const values = (n: number, k: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * k));

/** x [N, 4] → Gemm with a transposed weight → Mul by (c1 + c2) → y; and a Conv whose weight is Reshape(w). */
function graph(options: { randomWeight?: boolean; overridableWeight?: boolean } = {}): Model {
  const b = new GraphBuilder({ opset: 17, graphName: 'fold' });
  const x = b.input('x', 'float32', ['N', 4]);
  const stored = b.initializer(float32Tensor('w_stored', [4, 3], values(12, 0.7)));
  const weight = options.randomWeight
    ? b.node('RandomNormalLike', [stored], {}, { name: 'random/RandomNormalLike' })[0]!
    : b.transpose('weight', stored, [1, 0]);
  const bias = b.initializer(float32Tensor('bias', [3], [0.1, -0.2, 0.3]));
  const h = b.gemm('linear', x, weight, bias, { transB: 1 });
  const c1 = b.initializer(float32Tensor('c1', [3], [1, 2, 3]));
  const c2 = b.initializer(float32Tensor('c2', [3], [0.5, 0.5, 0.5]));
  const scaled = b.mul('scale', h, b.add('constants', c1, c2));
  // [N, 3] → [N, 3, 1, 1] → 1×1 Conv whose weight [2, 3, 1, 1] is a Reshape of a [2, 3] initializer.
  const image = b.reshape('image', scaled, [-1, 3, 1, 1]);
  const convWeight = b.reshape('conv_weight', b.initializer(float32Tensor('cw', [2, 3], values(6, 1.3))), [2, 3, 1, 1]);
  const y = b.conv('conv', image, convWeight, undefined, {});
  b.output(b.reshape('out', y, [-1, 2], { output: 'y' }), 'float32', ['N', 2]);
  const model = b.build();
  if (!options.overridableWeight) return model;
  // The builder refuses a name that is both; a file may have it (an initializer as an input's default).
  const inputs = [...model.graph.inputs, { name: stored, dtype: 'float32' as const, shape: [4, 3] }];
  return { ...model, graph: { ...model.graph, inputs } };
}

async function run(model: Model, name: string): Promise<Float32Array> {
  const path = join(tempDir(), name);
  await writeModel(model, path);
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  try {
    const x = new ort.Tensor('float32', Float32Array.from(values(8, 0.3)), [2, 4]);
    return (await session.run({ x })).y?.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('foldConstantWeights', () => {
  it('turns weights computed from initializers into initializers, drops what computed them and keeps the outputs', async () => {
    const model = graph();
    const { model: folded, folded: names } = await foldConstantWeights(model, 'fold.onnx');
    expect(names).toEqual(['weight/Transpose_output_0', 'conv_weight/Reshape_output_0']);
    const ops = folded.graph.nodes.map((n) => n.name);
    expect(ops).not.toContain('weight/Transpose');
    expect(ops.some((n) => n.startsWith('conv_weight/'))).toBe(false);
    // The constant Add feeds a Mul, not a weight: it stays.
    expect(ops).toContain('constants/Add');
    const transposed = folded.graph.initializers.find((t) => t.name === names[0]);
    expect(transposed?.dims).toEqual([3, 4]);
    const data = new Float32Array((await readTensorData(transposed!.data)).slice().buffer);
    const stored = Float32Array.from(values(12, 0.7));
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(data[r * 4 + c]).toBe(stored[c * 3 + r]);
    // What the folded weights were computed from is gone; the rest stays.
    expect(folded.graph.initializers.map((t) => t.name)).toEqual([
      'bias',
      'c1',
      'c2',
      '/shapes/-1x3x1x1',
      '/shapes/-1x2',
      ...names,
    ]);
    expect(Array.from(await run(folded, 'folded.onnx'))).toEqual(Array.from(await run(model, 'fp32.onnx')));
  });

  it('leaves a weight from a random op, and one from an initializer a graph input may override', async () => {
    for (const options of [{ randomWeight: true }, { overridableWeight: true }]) {
      const model = graph(options);
      const { model: folded, folded: names } = await foldConstantWeights(model, 'fold.onnx');
      expect(names, JSON.stringify(options)).toEqual(['conv_weight/Reshape_output_0']);
      expect(folded.graph.nodes.length).toBe(model.graph.nodes.length - 1);
    }
  });

  it('leaves a weight whose node must stay for another output (a constant Split read elsewhere too)', async () => {
    const b = new GraphBuilder({ opset: 17, graphName: 'split' });
    const x = b.input('x', 'float32', ['N', 4]);
    const both = b.initializer(float32Tensor('both', [6, 4], values(24, 0.9)));
    const [w, other] = b.node(
      'Split',
      [both, b.initializer(int64Tensor('halves', [2], [3, 3]))],
      {},
      {
        name: 'halves/Split',
        outputCount: 2,
      },
    ) as [string, string];
    const h = b.gemm('linear', x, w, undefined, { transB: 1 });
    b.output(b.add('plus', h, b.reduceMean('other', other, [1], { keepdims: 0 }), { output: 'y' }), 'float32', [
      'N',
      3,
    ]);
    const model = b.build();
    const { model: folded, folded: names } = await foldConstantWeights(model, 'fold.onnx');
    expect(names).toEqual([]);
    expect(folded.graph.nodes.map((n) => n.name)).toEqual(model.graph.nodes.map((n) => n.name));
    expect(folded.graph.initializers.map((t) => t.name)).toEqual(['both', 'halves']);
  });

  it('refuses a computed weight onnxruntime cannot give as float32, naming the file and the value', async () => {
    const b = new GraphBuilder({ opset: 17, graphName: 'ints' });
    const x = b.input('x', 'int64', ['N', 2]);
    const w = b.cast('weight', b.initializer(float32Tensor('w', [2, 2], [1, 2, 3, 4])), 'int64');
    b.output(b.matMul('product', x, w, { output: 'y' }), 'int64', ['N', 2]);
    const err = await foldConstantWeights(b.build(), 'ints.onnx').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuantizeError);
    expect((err as QuantizeError).message).toMatch(
      /^ints\.onnx: weights computed from initializers \(weight\/Cast_output_0\): expected float32 values onnxruntime can compute once, got /,
    );
  });

  it('returns a graph with no computed weight as it is', async () => {
    const b = new GraphBuilder({ opset: 17, graphName: 'plain' });
    const x = b.input('x', 'float32', ['N', 4]);
    const w = b.initializer(float32Tensor('w', [3, 4], values(12, 0.7)));
    b.output(b.gemm('linear', x, w, undefined, { transB: 1, output: 'y' }), 'float32', ['N', 3]);
    const model = b.build();
    expect(await foldConstantWeights(model, 'fold.onnx')).toEqual({ model, folded: [] });
  });
});
