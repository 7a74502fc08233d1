/**
 * A pre-pass of the QDQ rewrite. A quantized Conv's output is read through one DequantizeLinear, and
 * onnxruntime gives each consumer of a DQ its own copy (EnsureUniqueDQForNodeUnit). Where the output
 * fans out to several float nodes, as into the erf GELU (x/√2 → Erf … and x · …), those copies break
 * onnxruntime's fusion of the pattern into one Gelu kernel, and the five element-wise ops it leaves
 * cost a third of the int8 graph's time at batch 32 (convnext_tiny, measured). So such a Conv's bias
 * moves out into a float Add after it: the DQ then has one consumer, the Add, and the pattern after
 * it fuses as in fp32. The bias keeps its bytes (a [C, 1, 1] view of the same data). Pure: no I/O.
 */
import type { Model, Node, Tensor } from '../onnx/ir';

export function splitFanOutConvBias(model: Model): Model {
  const graph = model.graph;
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const consumers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const added: Tensor[] = [];
  const nodes: Node[] = [];
  for (const node of graph.nodes) {
    const bias = initializers.get(node.inputs[2] ?? '');
    const output = node.outputs[0] as string;
    const readers = consumers.get(output) ?? [];
    const fansOutToFloat =
      readers.length > 1 && readers.every((r) => r.opType !== 'Conv' && r.opType !== 'Gemm' && r.opType !== 'MatMul');
    const weight = initializers.get(node.inputs[1] ?? '');
    if (
      node.opType !== 'Conv' ||
      bias === undefined ||
      weight === undefined ||
      bias.dims.length !== 1 ||
      !fansOutToFloat ||
      graphOutputs.has(output)
    ) {
      nodes.push(node);
      continue;
    }
    const spatial = weight.dims.length - 2;
    const channelBias: Tensor = {
      ...bias,
      name: `${bias.name}/channels`,
      dims: [bias.dims[0] as number, ...new Array<number>(spatial).fill(1)],
    };
    added.push(channelBias);
    const beforeBias = `${output}/before_bias`;
    nodes.push({ ...node, inputs: node.inputs.slice(0, 2), outputs: [beforeBias] });
    nodes.push({
      name: `${node.name}/bias`,
      opType: 'Add',
      domain: '',
      inputs: [beforeBias, channelBias.name],
      outputs: [output],
      attributes: {},
    });
  }
  if (added.length === 0) return model;
  const stillRead = new Set(nodes.flatMap((n) => n.inputs));
  const initializersKept = graph.initializers.filter((t) => stillRead.has(t.name));
  return { ...model, graph: { ...graph, nodes, initializers: [...initializersKept, ...added] } };
}
