import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../onnx/builder';
import { assertValidModel, checkModel, ModelCheckError } from '../../onnx/checker';
import type { Model } from '../../onnx/ir';
import { float32Tensor, int64Tensor } from '../../onnx/ir';
import { inferShapes } from '../../onnx/shape-inference';
import { brokenCases, tinyModel } from './onnx-test-models';

/** Applies a case's byte truncation in the IR (the integration test does it in the protobuf). */
function materialize(c: ReturnType<typeof brokenCases>[number]): Model {
  const t = c.truncateInitializer;
  if (t === undefined) return c.model;
  const initializers = c.model.graph.initializers.map((x) => {
    if (x.name !== t.name || x.data.kind !== 'memory') return x;
    return { ...x, data: { kind: 'memory' as const, bytes: x.data.bytes.subarray(0, t.toBytes) } };
  });
  return { ...c.model, graph: { ...c.model.graph, initializers } };
}

describe('checkModel', () => {
  it.each([14, 15, 16, 17, 18, 19, 20, 21])(
    'opset %i: the miniature model is valid and infers positions [batch_size, 2]',
    (opset) => {
      const report = checkModel(tinyModel(opset));
      expect(report.problems).toEqual([]);
      expect(report.inferred.get('positions')).toEqual({ dtype: 'float32', shape: ['batch_size', 2] });
      expect(report.inferred.get('uncertainties')).toEqual({ dtype: 'float32', shape: ['batch_size', 2] });
    },
  );

  it.each(brokenCases().map((c) => [c.name, c] as const))('%s: reported with its node and a clear message', (_, c) => {
    const report = checkModel(materialize(c));
    expect(report.ok).toBe(false);
    const match = report.problems.find((p) => p.kind === c.kind && p.message.includes(c.message));
    expect(
      match,
      `no ${c.kind} problem containing "${c.message}" in:\n${report.problems.map((p) => p.message).join('\n')}`,
    ).toBeDefined();
    if (c.node !== undefined) {
      expect(match!.node).toBe(c.node);
      expect(match!.message).toMatch(
        new RegExp(`^node '${c.node.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' \\(\\w+\\): `),
      );
    }
  });

  it('reports every problem, not just the first', () => {
    const cases = brokenCases();
    const unknown = cases.find((c) => c.kind === 'unknown-op')!.model;
    const shape = cases.find((c) => c.kind === 'shape')!.model;
    const both: Model = { ...unknown, graph: { ...unknown.graph, outputs: shape.graph.outputs } };
    const kinds = checkModel(both).problems.map((p) => p.kind);
    expect(kinds).toContain('unknown-op');
    // Frobnicate breaks inference after the first node, so the output shape can't be compared;
    // but the input-less nodes after it are still checked:
    const withTwice = {
      ...both,
      graph: { ...both.graph, nodes: [...both.graph.nodes, { ...both.graph.nodes[2]!, name: 'again' }] },
    };
    const all = checkModel(withTwice).problems.map((p) => p.kind);
    expect(all).toEqual(expect.arrayContaining(['unknown-op', 'ssa']));
  });

  it('assertValidModel throws one error listing all problems and naming the file', () => {
    const c = brokenCases().find((x) => x.kind === 'undefined-input')!;
    expect(() => assertValidModel(c.model, 'model.onnx')).toThrow(ModelCheckError);
    expect(() => assertValidModel(c.model, 'model.onnx')).toThrow(
      /^model\.onnx: \d+ problems?:\n {2}- node 'backbone\.0\.1\.0\.block\.1\/Transpose'/,
    );
    expect(assertValidModel(tinyModel(17)).ok).toBe(true);
  });

  it('refuses an opset it has no tables for', () => {
    const m = { ...tinyModel(17), opset: 9 };
    expect(checkModel(m).problems[0]?.message).toBe(
      'opset 9 (ai.onnx) is not supported: this tool knows opsets 13 to 23',
    );
  });

  it('reports an external data range past the end of its file', () => {
    const m = tinyModel(17);
    const initializers = m.graph.initializers.map((t) =>
      t.name === 'position_head.0.bias'
        ? { ...t, data: { kind: 'file' as const, path: '/nonexistent/weights.bin', offset: 0, length: 8 } }
        : t,
    );
    expect(checkModel({ ...m, graph: { ...m.graph, initializers } }).problems.map((p) => p.message)).toEqual([
      "initializer 'position_head.0.bias': data file /nonexistent/weights.bin does not exist",
    ]);
  });
});

describe('inferShapes', () => {
  const infer = (build: (b: GraphBuilder) => void, opset = 17) => {
    const b = new GraphBuilder({ opset });
    build(b);
    return inferShapes(b.build());
  };

  type Row = [string, (b: GraphBuilder) => void, readonly (string | number)[], number?];
  it.each<Row>([
    [
      'Conv stride 4 (ConvNeXt stem)',
      (b: GraphBuilder) => {
        b.initializer(float32Tensor('w', [96, 3, 4, 4], new Float32Array(96 * 48)));
        b.conv('stem', b.input('x', 'float32', ['batch_size', 3, 128, 32]), 'w', undefined, {
          strides: [4, 4],
          output: 'y',
        });
      },
      ['batch_size', 96, 32, 8],
    ],
    [
      'depthwise Conv 7×7 pad 3',
      (b: GraphBuilder) => {
        b.initializer(float32Tensor('w', [96, 1, 7, 7], new Float32Array(96 * 49)));
        b.conv('dw', b.input('x', 'float32', ['batch_size', 96, 32, 8]), 'w', undefined, {
          group: 96,
          pads: [3, 3, 3, 3],
          output: 'y',
        });
      },
      ['batch_size', 96, 32, 8],
    ],
    [
      'Reshape with -1 keeps the batch symbol',
      (b: GraphBuilder) => {
        b.reshape('r', b.input('x', 'float32', ['batch_size', 768, 1, 1]), [-1, 768], { output: 'y' });
      },
      ['batch_size', 768],
    ],
    [
      'Reshape folding the batch into the height gives a multiple of the symbol',
      (b: GraphBuilder) => {
        b.reshape('r', b.input('x', 'float32', [96, 'batch_size', 32, 8]), [1, 96, -1, 8], { output: 'y' });
      },
      [1, 96, 'batch_size*32', 8],
    ],
    [
      'a 1×1 Conv keeps a symbolic height; unfolding cancels the multiple',
      (b: GraphBuilder) => {
        b.initializer(float32Tensor('w', [384, 96, 1, 1], new Float32Array(384 * 96)));
        const folded = b.reshape('fold', b.input('x', 'float32', [96, 'batch_size', 32, 8]), [1, 96, -1, 8]);
        b.reshape('unfold', b.conv('pw', folded, 'w', undefined, { kernelShape: [1, 1] }), [384, -1, 32, 8], {
          output: 'y',
        });
      },
      [384, 'batch_size', 32, 8],
    ],
    [
      'a 3×3 Conv loses a symbolic height',
      (b: GraphBuilder) => {
        b.initializer(float32Tensor('w', [4, 4, 3, 3], new Float32Array(4 * 4 * 9)));
        b.conv('c', b.input('x', 'float32', [1, 4, 'h', 8]), 'w', undefined, {
          kernelShape: [3, 3],
          pads: [1, 1, 1, 1],
          output: 'y',
        });
      },
      [1, 4, '', 8],
    ],
    [
      'Reshape with 0 copies a dim',
      (b: GraphBuilder) => {
        b.reshape('r', b.input('x', 'float32', ['batch_size', 4, 6]), [0, 2, 12], { output: 'y' });
      },
      ['batch_size', 2, 12],
    ],
    [
      'MatMul broadcasts batch dims',
      (b: GraphBuilder) => {
        b.initializer(float32Tensor('w', [96, 384], new Float32Array(96 * 384)));
        b.matMul('fc', b.input('x', 'float32', ['batch_size', 32, 8, 96]), 'w', { output: 'y' });
      },
      ['batch_size', 32, 8, 384],
    ],
    [
      'ReduceMean axes as an input from opset 18',
      (b: GraphBuilder) => {
        b.reduceMean('m', b.input('x', 'float32', ['batch_size', 8, 4, 96]), [-1], { output: 'y' });
      },
      ['batch_size', 8, 4, 1],
      18,
    ],
    [
      'Flatten after GlobalAveragePool',
      (b: GraphBuilder) => {
        b.flatten('f', b.globalAveragePool('p', b.input('x', 'float32', ['batch_size', 768, 4, 1])), { output: 'y' });
      },
      ['batch_size', 768],
    ],
    [
      'Unsqueeze with constant axes',
      (b: GraphBuilder) => {
        b.initializer(int64Tensor('axes', [1], [1]));
        b.node('Unsqueeze', [b.input('x', 'float32', ['n', 3]), 'axes'], {}, { name: 'u', outputs: ['y'] });
      },
      ['n', 1, 3],
    ],
  ])('%s', (_, build, expected, opset = 17) => {
    const r = infer(build, opset);
    expect(r.problems).toEqual([]);
    expect(r.types.get('y')?.shape).toEqual(expected);
  });

  it('reports dims that do not broadcast, naming both inputs', () => {
    const r = infer((b) => {
      b.add('a', b.input('x', 'float32', ['n', 3]), b.input('z', 'float32', ['n', 4]));
    });
    expect(r.problems).toEqual([
      {
        node: 'a/Add',
        opType: 'Add',
        message: "inputs 'x' [n, 3] and 'z' [n, 4] at axis 1: dimensions 3 and 4 do not broadcast",
      },
    ]);
  });

  it('reports mixed element types, naming the input', () => {
    const r = infer((b) => {
      b.mul('m', b.input('x', 'float32', [2]), b.input('i', 'int64', [2]));
    });
    expect(r.problems[0]).toMatchObject({
      node: 'm/Mul',
      input: 'i',
      message: "input 1 'i' is int64, but earlier inputs are float32",
    });
  });
});
