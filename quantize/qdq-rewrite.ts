/**
 * The QDQ rewrite: an fp32 graph, its quantization plan and the calibrated activation ranges in; the
 * same graph with QuantizeLinear/DequantizeLinear around the planned nodes out, which onnxruntime
 * fuses into integer kernels. Weights become per-channel int8 initializers, biases int32, activations
 * uint8 with one Q/DQ pair per tensor. Names are derived from the tensors' own names and nodes are
 * emitted in the input graph's order, so the same inputs give the same graph. Reads weight data (the
 * only I/O), writes nothing.
 */
import { attr, memoryTensor, type Model, type Node, type Tensor } from '../onnx/ir';
import { readTensorData } from '../onnx/tensor-bytes';
import type { Range } from './activation-ranges';
import type { QuantizationPlan, QuantizedNode } from './qdq-plan';
import { uint8Params, type UInt8Params } from './rounding';
import { quantizeBias, quantizeWeightPerChannel } from './weight-quantization';

/** Opset from which DequantizeLinear takes `axis` (per-channel weights). */
export const MIN_QDQ_OPSET = 13;

const bytesOf = (a: Int8Array | Int32Array | Float32Array | Uint8Array): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function floats(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

export interface RewriteResult {
  readonly model: Model;
  readonly activationParams: ReadonlyMap<string, UInt8Params>;
}

export async function rewriteToQdq(
  model: Model,
  plan: QuantizationPlan,
  ranges: ReadonlyMap<string, Range>,
): Promise<RewriteResult> {
  const graph = model.graph;
  const initializers: Tensor[] = [];
  const nodes: Node[] = [];
  const params = new Map<string, UInt8Params>();
  for (const name of plan.activations) {
    const range = ranges.get(name);
    if (range === undefined) throw new Error(`no calibration range for activation '${name}'`);
    params.set(name, uint8Params(range.min, range.max));
  }
  const dequantized = (name: string): string => `${name}_dequantized`;

  /** Q and DQ of one activation tensor, with its scale and zero point. */
  const activationQdq = (name: string): void => {
    const p = params.get(name) as UInt8Params;
    const scale = `${name}_scale`;
    const zeroPoint = `${name}_zero_point`;
    initializers.push(memoryTensor(scale, 'float32', [], bytesOf(Float32Array.of(p.scale))));
    initializers.push(memoryTensor(zeroPoint, 'uint8', [], Uint8Array.of(p.zeroPoint)));
    const quantized = `${name}_quantized`;
    nodes.push(qdqNode('QuantizeLinear', `${name}/QuantizeLinear`, [name, scale, zeroPoint], quantized));
    nodes.push(
      qdqNode('DequantizeLinear', `${name}/DequantizeLinear`, [quantized, scale, zeroPoint], dequantized(name)),
    );
  };

  const byNode = new Map(plan.nodes.map((q) => [q.node, q]));
  const replacedInitializers = new Set<string>();
  const quantizedActivations = new Set(plan.activations);

  for (const input of graph.inputs) if (quantizedActivations.has(input.name)) activationQdq(input.name);
  for (const node of graph.nodes) {
    const q = byNode.get(node);
    // Requantized tensors (Conv outputs) are read dequantized by every consumer.
    let inputs = node.inputs.map((i) => (plan.requantized.has(i) ? dequantized(i) : i));
    if (q !== undefined) {
      const x = node.inputs[0] as string;
      const xParams = params.get(x) as UInt8Params;
      inputs = [dequantized(x), ...(await weightQdq(q, xParams.scale, initializers, nodes))];
      replacedInitializers.add(q.weight.name);
      if (q.bias) replacedInitializers.add(q.bias.name);
    }
    nodes.push({ ...node, inputs });
    for (const output of node.outputs) if (quantizedActivations.has(output)) activationQdq(output);
  }

  const stillRead = new Set(nodes.flatMap((n) => n.inputs));
  const kept = graph.initializers.filter((t) => !replacedInitializers.has(t.name) || stillRead.has(t.name));
  return {
    model: { ...model, graph: { ...graph, initializers: [...kept, ...initializers], nodes } },
    activationParams: params,
  };
}

function qdqNode(
  opType: 'QuantizeLinear' | 'DequantizeLinear',
  name: string,
  inputs: string[],
  output: string,
  axis?: number,
): Node {
  return {
    name,
    opType,
    domain: '',
    inputs,
    outputs: [output],
    attributes: axis === undefined ? {} : { axis: attr.int(axis) },
  };
}

/** The DQ nodes of a quantized node's weight (and bias): the names its inputs 1 (and 2) become. */
async function weightQdq(
  q: QuantizedNode,
  inputScale: number,
  initializers: Tensor[],
  nodes: Node[],
): Promise<string[]> {
  const w = q.weight;
  const quantized = quantizeWeightPerChannel(floats(await readTensorData(w.data)), w.dims, q.weightAxis);
  const channels = quantized.scales.length;
  const out: string[] = [];
  const push = (
    name: string,
    values: Uint8Array,
    dtype: 'int8' | 'int32',
    dims: readonly number[],
    scales: Float32Array,
    zeros: Uint8Array,
    axis: number,
  ): string => {
    initializers.push(memoryTensor(`${name}_quantized`, dtype, dims, values));
    initializers.push(memoryTensor(`${name}_scale`, 'float32', [channels], bytesOf(scales)));
    initializers.push(memoryTensor(`${name}_zero_point`, dtype, [channels], zeros));
    nodes.push(
      qdqNode(
        'DequantizeLinear',
        `${name}/DequantizeLinear`,
        [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`],
        `${name}_dequantized`,
        axis,
      ),
    );
    return `${name}_dequantized`;
  };
  out.push(
    push(w.name, bytesOf(quantized.values), 'int8', w.dims, quantized.scales, new Uint8Array(channels), q.weightAxis),
  );
  if (q.bias) {
    const bias = quantizeBias(floats(await readTensorData(q.bias.data)), inputScale, quantized.scales);
    out.push(
      push(q.bias.name, bytesOf(bias.values), 'int32', q.bias.dims, bias.scales, new Uint8Array(4 * channels), 0),
    );
  }
  return out;
}
