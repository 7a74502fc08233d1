/**
 * Small graphs built with our own GraphBuilder, shared by the onnx/ unit and integration tests:
 * a LocalizationNet in miniature (Conv stem, LayerNorm over channels, a GELU MLP, pooling, two Gemm
 * heads, softplus + clip), so every op family the real model uses runs through the serializer,
 * the checker, onnxruntime and onnx.checker without waiting for models/.
 */
import { GraphBuilder } from '../../onnx/builder';
import type { Model, Tensor } from '../../onnx/ir';
import { float32Tensor } from '../../onnx/ir';

/** Deterministic pseudo-random numbers in [-scale, scale) (an LCG: the same every run). */
export function pseudoRandom(count: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 * scale - scale;
  }
  return out;
}

export function weights(name: string, dims: readonly number[], seed: number, scale = 0.5): Tensor {
  return float32Tensor(
    name,
    dims,
    pseudoRandom(
      dims.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  );
}

/** Channels of the miniature model and its input `[batch_size, 2, 8, 4]`. */
export const TINY = { inChannels: 2, height: 8, width: 4, channels: 4, hidden: 8, outputs: 2 } as const;

/**
 * The miniature LocalizationNet at `opset`: LayerNormalization from 17 (decomposed below, as models/
 * does for 14–16), Gelu from 20 (erf formula below).
 */
export function tinyModel(opset = 17): Model {
  const { inChannels, height, width, channels, hidden, outputs } = TINY;
  const b = new GraphBuilder({ opset });
  const x = b.input('mel_spectrogram', 'float32', ['batch_size', inChannels, height, width]);
  const w0 = b.initializer(weights('backbone.0.0.0.weight', [channels, inChannels, 2, 2], 1));
  const b0 = b.initializer(weights('backbone.0.0.0.bias', [channels], 2));
  let h = b.conv('backbone.0.0.0', x, w0, b0, { strides: [2, 2], kernelShape: [2, 2] }); // [B,4,4,2]
  h = b.transpose('backbone.0.1.0.block.1', h, [0, 2, 3, 1]); // [B,4,2,4] channels last
  const lnW = b.initializer(weights('backbone.0.1.0.block.2.weight', [channels], 3));
  const lnB = b.initializer(weights('backbone.0.1.0.block.2.bias', [channels], 4));
  h = layerNorm(b, 'backbone.0.1.0.block.2', h, lnW, lnB, 1e-6);
  const fc1W = b.initializer(weights('backbone.0.1.0.block.3.weight', [channels, hidden], 5));
  const fc1B = b.initializer(weights('backbone.0.1.0.block.3.bias', [hidden], 6));
  h = b.add('backbone.0.1.0.block.3', b.matMul('backbone.0.1.0.block.3', h, fc1W), fc1B);
  h = gelu(b, 'backbone.0.1.0.block.4', h);
  const fc2W = b.initializer(weights('backbone.0.1.0.block.5.weight', [hidden, channels], 7));
  h = b.matMul('backbone.0.1.0.block.5', h, fc2W);
  h = b.transpose('backbone.0.1.0.block.6', h, [0, 3, 1, 2]); // [B,4,4,2]
  h = b.globalAveragePool('avgpool', h); // [B,4,1,1]
  const f = b.flatten('flatten', h, { axis: 1 }); // [B,4]
  const pW = b.initializer(weights('position_head.0.weight', [outputs, channels], 8));
  const pB = b.initializer(weights('position_head.0.bias', [outputs], 9));
  b.gemm('position_head.0', f, pW, pB, { transB: 1, output: 'positions' });
  const uW = b.initializer(weights('uncertainty_head.0.weight', [outputs, channels], 10));
  const uB = b.initializer(weights('uncertainty_head.0.bias', [outputs], 11));
  const u = b.softplus('uncertainty_head', b.gemm('uncertainty_head.0', f, uW, uB, { transB: 1 }));
  const lo = b.initializer(float32Tensor('uncertainty_min', [], [0.01]));
  const hi = b.initializer(float32Tensor('uncertainty_max', [], [1.0]));
  b.clip('uncertainty_head', u, lo, hi, { output: 'uncertainties' });
  b.output('positions', 'float32', ['batch_size', outputs]);
  b.output('uncertainties', 'float32', ['batch_size', outputs]);
  return b.build({ metadataProps: { architecture: 'TinyLocalizationNet', checkpoint_sha256: '0'.repeat(64) } });
}

function scalar(b: GraphBuilder, name: string, value: number): string {
  return b.has(name) ? name : b.initializer(float32Tensor(name, [], [value]));
}

/** LayerNorm over the last axis: the op from opset 17, its decomposition before. */
export function layerNorm(b: GraphBuilder, scope: string, x: string, w: string, bias: string, eps: number): string {
  if (b.opset >= 17) return b.layerNormalization(scope, x, w, bias, { axis: -1, epsilon: eps });
  const mean = b.reduceMean(scope, x, [-1]);
  const d = b.sub(scope, x, mean);
  const v = b.reduceMean(scope, b.pow(scope, d, scalar(b, 'const.two', 2)), [-1]);
  const std = b.sqrt(scope, b.add(scope, v, scalar(b, `${scope}.eps`, eps)));
  return b.add(scope, b.mul(scope, b.div(scope, d, std), w), bias);
}

/** Exact (erf) GELU: the op from opset 20, `x * 0.5 * (1 + erf(x / sqrt 2))` before. */
export function gelu(b: GraphBuilder, scope: string, x: string): string {
  if (b.opset >= 20) return b.gelu(scope, x);
  const e = b.erf(scope, b.div(scope, x, scalar(b, 'const.sqrt2', Math.SQRT2)));
  const onePlus = b.add(scope, e, scalar(b, 'const.one', 1));
  return b.mul(scope, b.mul(scope, x, onePlus), scalar(b, 'const.half', 0.5));
}

/** One Conv or one Gemm, for checking onnxruntime's numbers against a hand computation. */
export function singleConvModel(): Model {
  const b = new GraphBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [1, 1, 3, 3]);
  const w = b.initializer(float32Tensor('conv.weight', [1, 1, 2, 2], [1, 2, 3, 4]));
  const bias = b.initializer(float32Tensor('conv.bias', [1], [0.5]));
  b.conv('conv', x, w, bias, { output: 'y' });
  b.output('y', 'float32', [1, 1, 2, 2]);
  return b.build();
}

export function singleGemmModel(): Model {
  const b = new GraphBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['n', 3]);
  const w = b.initializer(float32Tensor('fc.weight', [2, 3], [1, 0, -1, 2, 1, 0]));
  const bias = b.initializer(float32Tensor('fc.bias', [2], [0.25, -1]));
  b.gemm('fc', x, w, bias, { transB: 1, alpha: 2, output: 'y' });
  b.output('y', 'float32', ['n', 2]);
  return b.build();
}

/** A deliberately broken variant of the miniature model, and what a checker must say about it. */
export interface BrokenCase {
  readonly name: string;
  readonly model: Model;
  /** Our checker's ProblemKind for it. */
  readonly kind: string;
  /** The node both checkers should blame (undefined when the problem is not a node's). */
  readonly node?: string;
  /** A fragment of our message. */
  readonly message: string;
  /**
   * Bytes to patch after serializing (our serializer refuses to write an initializer whose data
   * disagrees with its dims, so that case is made by editing the protobuf).
   */
  readonly truncateInitializer?: { readonly name: string; readonly toBytes: number };
}

function editNodes(
  model: Model,
  f: (nodes: Model['graph']['nodes'][number][]) => Model['graph']['nodes'][number][],
): Model {
  return { ...model, graph: { ...model.graph, nodes: f([...model.graph.nodes]) } };
}

/** The broken models of issue 3, each with one problem, built from tinyModel(17). */
export function brokenCases(): BrokenCase[] {
  const m = tinyModel(17);
  const nodes = m.graph.nodes;
  const [conv, transpose] = [nodes[0]!, nodes[1]!];
  return [
    {
      name: 'unsorted nodes',
      model: editNodes(m, (n) => [transpose, conv, ...n.slice(2)]),
      kind: 'topological-order',
      node: transpose.name,
      message: `input 0 '${conv.outputs[0]}' is produced by node '${conv.name}' (Conv), which comes later`,
    },
    {
      name: 'an undefined input',
      model: editNodes(m, (n) =>
        n.map((x) => (x === transpose ? { ...x, inputs: ['backbone.0.0.0/Conv_output_7'] } : x)),
      ),
      kind: 'undefined-input',
      node: transpose.name,
      message:
        "input 0 'backbone.0.0.0/Conv_output_7' is not a graph input, an initializer or an output of an earlier node",
    },
    {
      name: 'a name produced twice',
      model: editNodes(m, (n) => [
        conv,
        transpose,
        { ...transpose, name: 'extra/Transpose', outputs: [conv.outputs[0]!] },
        ...n.slice(2),
      ]),
      kind: 'ssa',
      node: 'extra/Transpose',
      message: `output '${conv.outputs[0]}' is already defined by node '${conv.name}' (Conv)`,
    },
    {
      name: 'a wrong initializer size',
      model: m,
      kind: 'initializer',
      message: "initializer 'position_head.0.weight': float32 [2, 4] needs 32 bytes, its data has 28",
      truncateInitializer: { name: 'position_head.0.weight', toBytes: 28 },
    },
    {
      name: 'an unknown op',
      model: editNodes(m, (n) => n.map((x) => (x === transpose ? { ...x, opType: 'Frobnicate', attributes: {} } : x))),
      kind: 'unknown-op',
      node: transpose.name,
      message: 'no operator Frobnicate is known for opset 17',
    },
    {
      name: 'an op newer than the opset (Gelu at 17)',
      model: editNodes(m, (n) => n.map((x) => (x === transpose ? { ...x, opType: 'Gelu', attributes: {} } : x))),
      kind: 'unknown-op',
      node: transpose.name,
      message: 'Gelu exists from opset 20; this model is opset 17',
    },
    {
      name: 'a missing required attribute',
      model: editNodes(m, (n) => n.map((x) => (x === transpose ? { ...x, opType: 'Cast', attributes: {} } : x))),
      kind: 'attribute',
      node: transpose.name,
      message: "required attribute 'to' (INT) is missing",
    },
    {
      name: 'an output of the wrong shape',
      model: {
        ...m,
        graph: {
          ...m.graph,
          outputs: m.graph.outputs.map((o) => (o.name === 'positions' ? { ...o, shape: ['batch_size', 3] } : o)),
        },
      },
      kind: 'shape',
      node: 'position_head.0/Gemm',
      message: "graph output 'positions': declared shape [batch_size, 3], inferred [batch_size, 2]",
    },
    {
      name: 'an untyped graph output',
      model: {
        ...m,
        graph: { ...m.graph, outputs: m.graph.outputs.map((o) => (o.name === 'positions' ? { name: o.name } : o)) },
      },
      kind: 'graph-io',
      message: "graph output 'positions' has no type",
    },
    {
      name: 'an attribute of the wrong type',
      model: editNodes(m, (n) =>
        n.map((x) => (x.opType === 'Flatten' ? { ...x, attributes: { axis: { type: 'float', value: 1 } } } : x)),
      ),
      kind: 'attribute',
      node: 'flatten/Flatten',
      message: "attribute 'axis' must be INT, got FLOAT",
    },
    {
      name: 'mismatched inner dimensions',
      model: editNodes(m, (n) =>
        n.map((x) => (x.opType === 'Gemm' && x.name === 'position_head.0/Gemm' ? { ...x, attributes: {} } : x)),
      ),
      kind: 'shape',
      node: 'position_head.0/Gemm',
      message: "inner dimensions differ: 'flatten/Flatten_output_0' [batch_size, 4] × 'position_head.0.weight' [2, 4]",
    },
  ];
}
