import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRODUCER_VERSION, GraphBuilder } from '../../onnx/builder';
import { float32Tensor, irVersionForOpset } from '../../onnx/ir';
import { OnnxInputError } from '../../onnx/onnx-error';

function withInput(opset = 17): { b: GraphBuilder; x: string } {
  const b = new GraphBuilder({ opset });
  return { b, x: b.input('x', 'float32', ['batch_size', 4]) };
}

describe('GraphBuilder', () => {
  it('records the package version as producer_version', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(DEFAULT_PRODUCER_VERSION).toBe(pkg.version);
    const { b, x } = withInput();
    b.output(b.relu('r', x), 'float32', ['batch_size', 4]);
    expect(b.build().producerVersion).toBe(pkg.version);
  });

  it('names nodes scope/Op, repeats with _1, _2 and outputs <node>_output_<i>', () => {
    const { b, x } = withInput();
    const a = b.relu('head.1', x);
    const c = b.relu('head.1', a);
    const d = b.relu('head.1', c, { output: 'y' });
    expect([a, c, d]).toEqual(['head.1/Relu_output_0', 'head.1/Relu_1_output_0', 'y']);
    expect(b.build().graph.nodes.map((n) => n.name)).toEqual(['head.1/Relu', 'head.1/Relu_1', 'head.1/Relu_2']);
  });

  it('keeps initializer names (state_dict keys) and only the attributes that were set', () => {
    const { b, x } = withInput();
    const w = b.initializer(float32Tensor('position_head.0.weight', [2, 4], new Float32Array(8)));
    b.gemm('position_head.0', x, w, undefined, { transB: 1, output: 'positions' });
    b.output('positions', 'float32', ['batch_size', 2]);
    const m = b.build({ metadataProps: { run_id: 'r1' } });
    expect(m.graph.initializers.map((t) => t.name)).toEqual(['position_head.0.weight']);
    expect(m.graph.nodes[0]).toMatchObject({
      opType: 'Gemm',
      inputs: ['x', 'position_head.0.weight'],
      attributes: { transB: { type: 'int', value: 1 } },
    });
    expect(m).toMatchObject({ opset: 17, irVersion: 8, metadataProps: { run_id: 'r1' } });
  });

  it.each([
    [
      'an undefined input',
      (b: GraphBuilder) => b.relu('r', 'nope'),
      "node 'r/Relu' (Relu): input 0 'nope' is not defined (not a graph input, initializer or earlier output)",
    ],
    [
      'a name defined twice',
      (b: GraphBuilder) => b.relu('r', 'x', { output: 'x' }),
      "node 'r/Relu' (Relu): value 'x' is already defined by graph input 'x'",
    ],
    [
      'an initializer shadowing an input',
      (b: GraphBuilder) => b.initializer(float32Tensor('x', [1], [0])),
      "initializer 'x': value 'x' is already defined by graph input 'x'",
    ],
    [
      'an output nothing produces',
      (b: GraphBuilder) => b.output('y', 'float32', [1]),
      "graph output 'y' is not defined by any node, input or initializer",
    ],
    [
      'LayerNormalization below opset 17',
      (b: GraphBuilder) => b.layerNormalization('ln', 'x', 'x', undefined),
      'LayerNormalization needs opset 17 or later; this graph is opset 16',
    ],
    [
      'Gelu below opset 20',
      (b: GraphBuilder) => b.gelu('g', 'x'),
      'Gelu needs opset 20 or later; this graph is opset 16',
    ],
  ] as const)('refuses %s at once', (_, f, message) => {
    const { b } = withInput(16);
    expect(() => f(b)).toThrow(message);
  });

  it('a refusal is a final OnnxInputError about the graph, with the subject and both sides as fields', () => {
    const caught = (f: () => unknown): unknown => {
      try {
        f();
      } catch (err) {
        return err;
      }
      throw new Error('expected a refusal');
    };
    const twice = caught(() => withInput(16).b.relu('r', 'x', { output: 'x' }));
    expect(twice).toBeInstanceOf(OnnxInputError);
    expect(twice).toMatchObject({
      kind: 'graph',
      retryable: false,
      context: { subject: "value 'x'", expected: 'one definition', actual: "node 'r/Relu' (Relu) and graph input 'x'" },
    });
    expect(caught(() => withInput(16).b.layerNormalization('ln', 'x', 'x', undefined))).toMatchObject({
      kind: 'graph',
      context: { subject: 'LayerNormalization', expected: 'opset 17 or later', actual: 'opset 16' },
    });
    expect(caught(() => new GraphBuilder({ opset: 12 }))).toMatchObject({
      kind: 'graph',
      context: { subject: 'opset', actual: '12', expected: expect.stringMatching(/^one of 13, 14, .*23$/) },
    });
  });

  it('ReduceMean: axes attribute before opset 18, an int64 initializer input from 18', () => {
    const a = withInput(17);
    a.b.reduceMean('ln', a.x, [-1]);
    expect(a.b.build().graph.nodes[0]).toMatchObject({
      inputs: ['x'],
      attributes: { axes: { type: 'ints', value: [-1] } },
    });
    const c = withInput(18);
    c.b.reduceMean('ln', c.x, [-1]);
    const m = c.b.build();
    expect(m.graph.nodes[0]).toMatchObject({ inputs: ['x', 'ln/ReduceMean.axes'], attributes: {} });
    expect(m.graph.initializers[0]).toMatchObject({ name: 'ln/ReduceMean.axes', dtype: 'int64', dims: [1] });
  });

  it('refuses an opset it has no IR version for', () => {
    expect(() => new GraphBuilder({ opset: 12 })).toThrow('opset 12 is not supported: known opsets are 13, 14');
    expect([14, 17, 20, 21].map(irVersionForOpset)).toEqual([7, 8, 9, 10]);
  });
});
