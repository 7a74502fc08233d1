/**
 * Which nodes of an fp32 graph become integer kernels, and which activation tensors calibration must
 * measure for them. Only where onnxruntime fuses QDQ into an integer kernel:
 * - Conv with a constant weight → QLinearConv: its input and its output are quantized (the fused
 *   kernel requantizes its output, so the output's Q/DQ pair is part of the pattern);
 * - Gemm (alpha = beta = 1, no transA) with a constant B → QGemm with a float output;
 * - MatMul with a constant 2-D B → MatMulIntegerToFloat, float output.
 * Everything else (LayerNorm, GELU/Erf, Softplus, Clip, the heads' outputs) stays float32, and so do
 * the candidates inside the graph's float scopes (INT8_FLOAT_SCOPES_KEY in its metadata: where its
 * author measured that int8 costs accuracy for no speed), and the nodes a caller names (the
 * accuracy-aware search's: quantize/float-fallback-search.ts). Pure: reads no tensor data.
 */
import { INT8_FLOAT_SCOPES_KEY } from '../common/export-contract';
import type { Graph, Model, Node, Tensor } from '../onnx/ir';

export type QuantizedOp = 'Conv' | 'Gemm' | 'MatMul';

export interface QuantizedNode {
  readonly node: Node;
  readonly op: QuantizedOp;
  readonly weight: Tensor;
  readonly bias: Tensor | undefined;
  /** The weight's channel axis (per-channel scales). */
  readonly weightAxis: number;
}

export interface QuantizationPlan {
  readonly nodes: readonly QuantizedNode[];
  /** Nodes that would be quantized but sit in one of the graph's float scopes. */
  readonly keptFloat: readonly QuantizedNode[];
  /** Nodes that would be quantized but the caller named to keep float (the accuracy-aware search's), in graph order. */
  readonly keptFloatByName: readonly QuantizedNode[];
  /** Activation tensors to calibrate and quantize, in graph order. */
  readonly activations: readonly string[];
  /** Of those, the ones every consumer reads dequantized (Conv outputs); the rest only for quantized nodes. */
  readonly requantized: ReadonlySet<string>;
}

function intAttr(node: Node, name: string, fallback: number): number {
  const a = node.attributes[name];
  return a?.type === 'int' ? a.value : fallback;
}

function floatAttr(node: Node, name: string, fallback: number): number {
  const a = node.attributes[name];
  return a?.type === 'float' ? a.value : fallback;
}

function quantizable(node: Node, initializers: ReadonlyMap<string, Tensor>): QuantizedNode | undefined {
  if (node.domain !== '') return undefined;
  const weight = initializers.get(node.inputs[1] ?? '');
  if (weight?.dtype !== 'float32') return undefined;
  const biasName = node.inputs[2] ?? '';
  const bias = biasName === '' ? undefined : initializers.get(biasName);
  if (biasName !== '' && (bias?.dtype !== 'float32' || bias.dims.length !== 1)) return undefined;
  switch (node.opType) {
    case 'Conv':
      return { node, op: 'Conv', weight, bias, weightAxis: 0 };
    case 'Gemm': {
      const plain =
        intAttr(node, 'transA', 0) === 0 && floatAttr(node, 'alpha', 1) === 1 && floatAttr(node, 'beta', 1) === 1;
      if (!plain || weight.dims.length !== 2) return undefined;
      return { node, op: 'Gemm', weight, bias, weightAxis: intAttr(node, 'transB', 0) === 1 ? 0 : 1 };
    }
    case 'MatMul':
      return weight.dims.length === 2 && node.inputs.length === 2
        ? { node, op: 'MatMul', weight, bias: undefined, weightAxis: 1 }
        : undefined;
    default:
      return undefined;
  }
}

/** The float scopes the graph's metadata names (INT8_FLOAT_SCOPES_KEY), in its order. */
export function floatScopes(model: Model): string[] {
  const value = model.metadataProps[INT8_FLOAT_SCOPES_KEY] ?? '';
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Whether node `name` is in `scope`: the name is the scope, or starts with it and then a `/` or `.`. */
export function inScope(name: string, scope: string): boolean {
  return name === scope || (name.startsWith(scope) && (name[scope.length] === '/' || name[scope.length] === '.'));
}

export interface PlanOptions {
  /** Node names to leave float besides the graph's float scopes (names that are not candidates are ignored). */
  readonly keepFloat?: ReadonlySet<string>;
}

export function planQuantization(model: Model, options: PlanOptions = {}): QuantizationPlan {
  const graph: Graph = model.graph;
  const scopes = floatScopes(model);
  const keptFloat: QuantizedNode[] = [];
  const keptFloatByName: QuantizedNode[] = [];
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const nodes: QuantizedNode[] = [];
  const wanted = new Set<string>();
  const requantized = new Set<string>();
  for (const node of graph.nodes) {
    const q = quantizable(node, initializers);
    if (q === undefined) continue;
    if (scopes.some((scope) => inScope(node.name, scope))) {
      keptFloat.push(q);
      continue;
    }
    if (options.keepFloat?.has(node.name)) {
      keptFloatByName.push(q);
      continue;
    }
    nodes.push(q);
    wanted.add(node.inputs[0] as string);
    const output = node.outputs[0] as string;
    if (q.op === 'Conv' && !graphOutputs.has(output)) {
      wanted.add(output);
      requantized.add(output);
    }
  }
  // Graph order: inputs first, then node outputs as they are produced.
  const order = [...graph.inputs.map((i) => i.name), ...graph.nodes.flatMap((n) => n.outputs)];
  return { nodes, keptFloat, keptFloatByName, activations: order.filter((name) => wanted.has(name)), requantized };
}
