/**
 * A pre-pass of the QDQ rewrite: a weight or bias that the graph computes from initializers alone
 * becomes an initializer, so that the plan (qdq-plan) sees a constant to quantize. IQResNet18's
 * composed convs are the case in point (models/iq_resnet18/composed-convs.ts: each k5 weight is a
 * Conv of one folded weight over another, transposed and reversed; the conv on the mean over length
 * reads a ReduceSum and a Concat of slices); a brought graph exported without constant folding is
 * another.
 *
 * Only the constant subgraphs that feed input 1 or 2 of a Conv, Gemm or MatMul are folded, by running
 * them once in onnxruntime-node: the kernels that fold them when a session of the fp32 graph is
 * created, so the int8 graph quantizes the very weights the fp32 graph runs with. One thread, so the
 * values do not depend on the host's core count. Nodes nothing reads any more are dropped; every other
 * node (other constant subgraphs included) is left as it is. Random ops are never constant. A value
 * onnxruntime cannot compute as float32 is a QuantizeError naming it. It must not change what the
 * graph computes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { memoryTensor, type Model, type Node, type Tensor } from '../onnx/ir';
import { writeModel } from '../onnx/write-model';
import { QuantizeError } from './quantize-error';

/** The ops whose weight (input 1) and bias (input 2) the plan quantizes. */
const WEIGHT_READERS = new Set(['Conv', 'Gemm', 'MatMul']);
/** Ops that give a new value on every run: never folded. */
const RANDOM_OPS = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial']);
/** The fold runs a handful of small kernels: one thread keeps its values the same on every host. */
const FOLD_THREADS = 1;

export interface FoldedWeights {
  readonly model: Model;
  /** The values that became initializers, in graph order. */
  readonly folded: readonly string[];
}

/** `modelFile` names the graph in errors. */
export async function foldConstantWeights(model: Model, modelFile: string): Promise<FoldedWeights> {
  const graph = model.graph;
  // An initializer that is also a graph input is a default the caller may override: not a constant.
  const inputs = new Set(graph.inputs.map((i) => i.name));
  const constant = new Set(graph.initializers.filter((t) => !inputs.has(t.name)).map((t) => t.name));
  const producer = new Map<string, Node>();
  for (const node of graph.nodes) {
    const known = node.inputs.every((i) => i === '' || constant.has(i));
    if (node.domain === '' && !RANDOM_OPS.has(node.opType) && known) {
      for (const o of node.outputs) {
        constant.add(o);
        producer.set(o, node);
      }
    }
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const wanted = new Set<string>();
  for (const node of graph.nodes) {
    if (!WEIGHT_READERS.has(node.opType) || node.domain !== '' || producer.has(node.outputs[0] ?? '')) continue;
    for (const name of node.inputs.slice(1, 3)) if (producer.has(name) && !graphOutputs.has(name)) wanted.add(name);
  }
  if (wanted.size === 0) return { model, folded: [] };

  // The nodes the wanted values need, in graph order, and the initializers they read.
  const needed = new Set<Node>();
  const visit = (name: string): void => {
    const node = producer.get(name);
    if (node === undefined || needed.has(node)) return;
    needed.add(node);
    for (const i of node.inputs) visit(i);
  };
  for (const name of wanted) visit(name);
  const values = await evaluate(
    model,
    modelFile,
    graph.nodes.filter((n) => needed.has(n)),
    graph.nodes.flatMap((n) => n.outputs).filter((o) => wanted.has(o)),
  );

  // Drop the constant nodes nothing reads once the folded values are initializers. One that must stay
  // (another of its outputs is read) keeps defining its values: those are not folded.
  const read = new Set(graph.outputs.map((o) => o.name));
  const kept: Node[] = [];
  for (const node of [...graph.nodes].reverse()) {
    const isFolded = node.outputs.every((o) => wanted.has(o) || !read.has(o));
    if (producer.has(node.outputs[0] ?? '') && isFolded) continue;
    kept.push(node);
    for (const i of node.inputs) read.add(i);
  }
  kept.reverse();
  const defined = new Set(kept.flatMap((n) => n.outputs));
  const initializers = [
    ...graph.initializers.filter((t) => read.has(t.name)),
    ...values.filter((t) => !defined.has(t.name)),
  ];
  const folded = values.map((t) => t.name).filter((name) => !defined.has(name));
  return { model: { ...model, graph: { ...graph, nodes: kept, initializers } }, folded };
}

/** Runs `nodes` (constant: they read initializers only) in onnxruntime; `outputs` as float32 initializers. */
async function evaluate(
  model: Model,
  modelFile: string,
  nodes: readonly Node[],
  outputs: readonly string[],
): Promise<Tensor[]> {
  const reads = new Set(nodes.flatMap((n) => n.inputs));
  const subgraph: Model = {
    ...model,
    graph: {
      ...model.graph,
      inputs: [],
      outputs: outputs.map((name) => ({ name, dtype: 'float32' as const })),
      initializers: model.graph.initializers.filter((t) => reads.has(t.name)),
      nodes,
      valueInfo: [],
    },
  };
  const dir = await mkdtemp(join(tmpdir(), 'onnx-export-fold-'));
  try {
    const path = join(dir, 'constants.onnx');
    await writeModel(subgraph, path, { externalData: 'never' });
    let out: ort.InferenceSession.ReturnType;
    try {
      const session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: FOLD_THREADS,
        interOpNumThreads: 1,
      });
      try {
        out = await session.run({});
      } finally {
        await session.release();
      }
    } catch (err) {
      throw new QuantizeError({
        file: modelFile,
        subject: `weights computed from initializers (${outputs.join(', ')})`,
        expected: 'float32 values onnxruntime can compute once',
        actual: err instanceof Error ? err.message : String(err),
      });
    }
    return outputs.map((name) => {
      const data = out[name]?.data as Float32Array;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return memoryTensor(name, 'float32', out[name]?.dims ?? [], bytes);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
